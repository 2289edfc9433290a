"""What tests/ and bench/ share to drive the real service from outside: nothing here ships.

- `service`: a throwaway redis-server, Celery workers and the API under gunicorn; `poll`.
- `readface_up`: `readface up` run as a user runs it.
- `sentinel`: a Redis Sentinel deployment; `retried_uploads`: uploads that ride out a failover.
- `swift_s3`: a real S3 server (OpenStack Swift's s3api).
- `dns`: a name server that never answers, and the API behind it.
- `receivers`: callback receivers, polite and misbehaving.
- `images`: real photos and composites; `bombs`: hostile images.
- `paths`: the repository and its model files.

The arrows point here from tests/ and bench/, and from here only to the shipped packages.
"""

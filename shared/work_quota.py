"""What a queued upload counts against its client's quota: its work, not only its bytes.

A worker's time on a job grows with the pixels it decodes and has a floor whatever the file
(detection runs at a fixed input size, the annotated image is encoded): counted by bytes alone, a
57-byte file declaring megapixels, or thousands of tiny ones, would queue work without limit. So
the quota (READFACE_MAX_QUEUED_BYTES_PER_CLIENT) counts each job as the largest of its bytes, its
pixels at what a camera JPEG weighs per pixel, and a fixed minimum: a photo counts about its own
size, a small file declaring many pixels as much as the photo it decodes to, a tiny file as much
as a small photo.
"""

from __future__ import annotations

# A phone's JPEG weighs about a third of a byte per pixel (12 MP in 3-4 MB): a 20 MB upload of
# up to 60 MP counts its bytes, so five uploads at the size limit still fit the default quota.
PIXELS_PER_COUNTED_BYTE = 3
# Every job counts at least this: the default quota holds 400 tiny jobs per client, not millions.
MIN_JOB_COST = 256 * 1024


def job_cost(size: int, pixels: int) -> int:
    """What a job of `size` bytes and `pixels` (from its header) counts against the quota."""
    return max(size, pixels // PIXELS_PER_COUNTED_BYTE, MIN_JOB_COST)

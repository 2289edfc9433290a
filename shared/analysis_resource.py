"""The analysis resource of the contract, built from a stored job at the edge."""

from __future__ import annotations

from typing import Any

from shared.job_states import JobStatus
from shared.store import StoredAnalysis


def analysis_resource(analysis: StoredAnalysis) -> dict[str, Any]:
    """The JSON the API serves and callbacks carry for one analysis."""
    job = analysis.job
    error = (
        {"code": job.error_code, "message": job.error_message or ""}
        if job.status is JobStatus.FAILED
        else None
    )
    return {
        "id": job.id,
        "status": job.status.value,
        "created_at": job.created_at,
        "finished_at": job.finished_at,
        "links": {
            "self": f"/v1/analyses/{job.id}",
            "annotated": f"/v1/analyses/{job.id}/annotated",
        },
        "error": error,
        "result": analysis.result,
    }

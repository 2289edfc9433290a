"""Reading an upload from either encoding the contract allows, through one code path."""

from __future__ import annotations

from dataclasses import dataclass

from flask import Request
from werkzeug.exceptions import RequestEntityTooLarge

from shared.errors import BadRequest, TooLarge, UnsupportedMediaType
from shared.imageinfo import MEDIA_TYPES

RAW_TYPES = set(MEDIA_TYPES.values())
# Room for multipart boundaries, part headers and the callback_url field around the image.
FORM_OVERHEAD_BYTES = 64 * 1024
# An upload's form has two parts (image, callback_url); Werkzeug stops parsing past this many.
MAX_FORM_PARTS = 16
# Uploads held in memory at once, from their read to their answer, each up to the size limit
# (twice, briefly, while Werkzeug joins the body): what bounds the API's memory however many
# arrive together (issue 25); the others wait their turn with their bodies on disk.
UPLOADS_IN_MEMORY = 4


@dataclass(frozen=True, slots=True)
class Upload:
    data: bytes
    callback_url: str | None


def read_upload(request: Request, max_bytes: int) -> Upload:
    """The image bytes and callback URL of a POST (its body already read whole and within the
    size limit, api/request_body.py); BadRequest/TooLarge/UnsupportedMediaType."""
    mimetype = request.mimetype
    if mimetype == "multipart/form-data":
        try:
            files, form = request.files, request.form
        except ValueError as error:
            raise BadRequest(f"The multipart form could not be read ({error}).") from error
        except RequestEntityTooLarge:
            # The body is within the limit (it was read whole): the parts are too many.
            raise BadRequest(
                f"The multipart form has more than {MAX_FORM_PARTS} parts; an upload needs two "
                "at most, 'image' and 'callback_url'."
            ) from None
        if "image" not in files:
            raise BadRequest("The form has no file in the field 'image'.")
        data = files["image"].read(max_bytes + 1)
        callback_url = _one_callback_url(form.get("callback_url"), request.args.get("callback_url"))
    elif mimetype in RAW_TYPES:
        data = request.get_data(cache=False)
        callback_url = request.args.get("callback_url") or None
    elif not mimetype and not request.content_length:
        raise BadRequest("The request has no image: send multipart field 'image' or raw bytes.")
    else:
        raise UnsupportedMediaType(
            f"Content-Type {mimetype or '(none)'} is not accepted: send multipart/form-data with "
            "an 'image' field, or raw bytes as image/jpeg, image/png, image/webp, image/bmp, "
            "image/heic or image/heif."
        )
    if not data:
        raise BadRequest("The image is empty.")
    if len(data) > max_bytes:
        raise TooLarge(f"The upload is larger than the limit of {max_bytes:,} bytes.")
    return Upload(data, callback_url)


def _one_callback_url(in_form: str | None, in_query: str | None) -> str | None:
    """A multipart upload may name its callback in the form or in the query, not both."""
    if in_form and in_query and in_form != in_query:
        raise BadRequest("Two different callback URLs: give callback_url in the form or the query.")
    return in_form or in_query or None

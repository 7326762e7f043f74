"""Reading Bot API call parameters the way Telegram does.

PTB sends form-urlencoded (or multipart, when uploading) bodies in which strings are sent raw
and everything else (ints, bools, nested objects such as ``reply_markup``) as JSON text, so
``chat_id`` arrives as ``"-1001"`` and ``show_alert`` as ``"true"``.  Other clients send JSON
bodies or query strings.  :class:`Params` therefore keeps whatever arrived and converts on
access, based on the type the method expects.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from emulator.errors import ApiError, bad_request


@dataclass(frozen=True)
class UploadedFile:
    filename: str
    content_type: str
    data: bytes


class Params:
    def __init__(self, values: dict[str, Any], files: dict[str, UploadedFile]) -> None:
        self.values = values
        self.files = files

    def has(self, name: str) -> bool:
        return self.values.get(name) not in (None, "") or name in self.files

    def get_str(self, name: str) -> str | None:
        value = self.values.get(name)
        if value is None:
            return None
        return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)

    def require_str(self, name: str, missing: str | None = None) -> str:
        value = self.get_str(name)
        if value is None or value == "":
            raise bad_request(missing or f"{name} is empty")
        return value

    def get_int(self, name: str) -> int | None:
        value = self.values.get(name)
        if value is None or value == "":
            return None
        if isinstance(value, bool):
            raise bad_request(f"invalid {name} specified")
        if isinstance(value, int):
            return value
        try:
            return int(str(value).strip())
        except ValueError:
            raise bad_request(f"invalid {name} specified") from None

    def require_int(self, name: str) -> int:
        value = self.get_int(name)
        if value is None:
            raise bad_request(f"{name} is empty")
        return value

    def get_float(self, name: str) -> float | None:
        value = self.values.get(name)
        if value is None or value == "":
            return None
        try:
            return float(value)
        except (TypeError, ValueError):
            raise bad_request(f"invalid {name} specified") from None

    def get_bool(self, name: str) -> bool:
        value = self.values.get(name)
        if isinstance(value, str):
            return value.strip().lower() in ("true", "1")
        return bool(value)

    def get_json(self, name: str, error: str | None = None) -> Any:
        """A nested object; JSON text is decoded, already-decoded values pass through."""
        value = self.values.get(name)
        if not isinstance(value, str):
            return value
        if value == "":
            return None
        try:
            return json.loads(value)
        except ValueError:
            raise bad_request(error or f"can't parse {name} JSON object") from None

    def chat_id(self, name: str = "chat_id") -> int | str:
        value = self.values.get(name)
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        if not isinstance(value, str) or not value.strip():
            raise bad_request(f"{name} is empty")
        text = value.strip()
        if text.startswith("@"):
            return text
        try:
            return int(text)
        except ValueError:
            raise bad_request("chat not found") from None


async def read_params(request: web.Request) -> Params:
    """Merge query string and body (JSON, urlencoded or multipart) into :class:`Params`."""
    values: dict[str, Any] = dict(request.query)
    files: dict[str, UploadedFile] = {}
    if request.method == "POST" and request.can_read_body:
        if request.content_type == "application/json":
            try:
                body = await request.json()
            except ValueError:
                raise ApiError(400, "Bad Request: can't parse JSON request body") from None
            if not isinstance(body, dict):
                raise ApiError(400, "Bad Request: JSON request body must be an object")
            values.update(body)
        else:
            form = await request.post()
            for key, value in form.items():
                if isinstance(value, web.FileField):
                    files[key] = UploadedFile(
                        filename=value.filename or key,
                        content_type=value.content_type or "application/octet-stream",
                        data=value.file.read(),
                    )
                else:
                    values[key] = value
    return Params(values, files)

"""The embedded mode's Celery broker: kombu's file-system transport, made safe to read.

kombu writes a message file in place, so a worker polling the folder can pick the file up
between its creation and the write, read nothing, and crash its consumer on an empty payload.
Here the message is written under a name the reader ignores and then renamed into place, which
is atomic on POSIX: a reader sees either no file or the whole message.
"""

from __future__ import annotations

import os
import uuid
from time import monotonic
from typing import Any

from kombu.exceptions import ChannelError
from kombu.transport import TRANSPORT_ALIASES, filesystem
from kombu.utils.encoding import str_to_bytes
from kombu.utils.json import dumps

ALIAS = "pwfilesystem"


class Channel(filesystem.Channel):
    def _put(self, queue: str, payload: Any, **kwargs: Any) -> None:  # type: ignore[override]
        name = f"{round(monotonic() * 1000)}_{uuid.uuid4()}.{queue}.msg"
        final = os.path.join(self.data_folder_out, name)
        # A leading dot: kombu's reader only takes files named "<stamp>.<queue>.msg".
        partial = os.path.join(self.data_folder_out, f".{name}.partial")
        try:
            with open(partial, "wb") as handle:
                handle.write(str_to_bytes(dumps(payload)))
            os.replace(partial, final)
        except OSError as exc:
            raise ChannelError(f"Cannot add file {final!r} to directory") from exc


class Transport(filesystem.Transport):
    Channel = Channel
    driver_type = "filesystem"
    driver_name = "pwfilesystem"


TRANSPORT_ALIASES[ALIAS] = "pricewatch.core.broker:Transport"

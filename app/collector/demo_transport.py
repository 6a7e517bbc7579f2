"""kombu's filesystem transport with atomic writes, for the demo cluster.

The stock transport creates a message file and then writes into it, so a consumer polling
the folder at that instant can take the still-empty file and fail to parse it (a demo
worker died of exactly that). Here a message is written under a name no consumer picks
up, then renamed into place, which is atomic on one filesystem.
"""
from __future__ import annotations

import os
import time
import uuid

from kombu.transport import filesystem
from kombu.utils.encoding import str_to_bytes
from kombu.utils.json import dumps

PATH = "app.collector.demo_transport:Transport"
_PARTIAL_SUFFIX = ".part"  # consumers only take names ending in '<queue>.msg'


class Channel(filesystem.Channel):
    def _put(self, queue, payload, **kwargs):
        name = f"{round(time.monotonic() * 1000)}_{uuid.uuid4()}.{queue}.msg"
        final = os.path.join(self.data_folder_out, name)
        partial = final + _PARTIAL_SUFFIX
        try:
            with open(partial, "wb") as handle:
                handle.write(str_to_bytes(dumps(payload)))
            os.replace(partial, final)
        except OSError as exc:
            raise filesystem.ChannelError(f"cannot add file {final!r} to the queue folder") from exc


class Transport(filesystem.Transport):
    Channel = Channel

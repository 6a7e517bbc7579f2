"""kombu's filesystem transport with atomic writes and short waits, for the demo cluster.

The stock transport creates a message file and then writes into it, so a consumer polling
the folder at that instant can take the still-empty file and fail to parse it (a demo
worker died of exactly that). Here a message is written under a name no consumer picks
up, then renamed into place, which is atomic on one filesystem.

Celery's worker loop for a transport like this one looks at its shutdown flag only between
two waits for messages of 2 s each; waits here end after WAKE_SECONDS (an empty wait, as a
timeout), so a demo worker sees Ctrl-C at once.
"""
from __future__ import annotations

import os
import time
import uuid

from kombu.transport import filesystem
from kombu.utils.encoding import str_to_bytes
from kombu.utils.json import dumps

PATH = "celery_scope.collector.demo_transport:Transport"
_PARTIAL_SUFFIX = ".part"  # consumers only take names ending in '<queue>.msg'
WAKE_SECONDS = 0.2


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

    def drain_events(self, connection, timeout=None):
        if timeout is not None:
            timeout = min(timeout, WAKE_SECONDS)
        return super().drain_events(connection, timeout=timeout)

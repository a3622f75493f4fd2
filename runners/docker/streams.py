"""Bytes on an exec's stream: Docker's framed output, stdin, and the tar archives files travel in.

Touches sockets and in-memory bytes only: no Docker call, no file on the host. Every reader here
keeps at most a cap of bytes and drains the rest, so what a candidate prints can neither fill the
host's memory nor block its reader into looking like a timeout.
"""

from __future__ import annotations

import io
import select
import socket
import struct
import tarfile
import threading
import time
from collections.abc import Callable, Mapping


def raw_socket(sock) -> socket.socket:
    """A socket of our own for an exec's stream; docker-py's wrappers around it are closed at once.

    Closing only the inner socket leaves docker-py's ``SocketIO`` holding a
    reference, so the descriptor leaked until garbage collection (a
    ResourceWarning, an error under pytest). The duplicate keeps the stream open.
    """
    raw = getattr(sock, "_sock", sock)
    own = raw.dup()
    response = getattr(sock, "_response", None)
    if response is not None:
        response.close()
    raw.close()
    return own


def feed(sock: socket.socket, data: bytes) -> None:
    """Write stdin then half-close; a program that never reads stdin just ends it early."""
    try:
        if data:
            sock.sendall(data)
        sock.shutdown(socket.SHUT_WR)
    except OSError:
        pass


def pump(
    sock: socket.socket,
    deadline: float,
    cap: int,
    *,
    stop: threading.Event | None = None,
    on_stderr: Callable[[bytearray], None] | None = None,
    stderr_extra: int = 0,
) -> tuple[bytes, bytes, bool, bool]:
    """Demultiplex Docker's framed stream until EOF, the deadline, or ``stop`` is set.

    Keeps at most ``cap`` bytes per stream but drains everything, so a
    flooding program is never blocked into looking like a timeout.
    ``on_stderr`` sees the stderr kept so far after each of its frames (a reader waiting for a line);
    ``stderr_extra`` bytes more are kept of stderr (a line the engine's own shell writes there first).
    Returns ``(stdout, stderr, truncated, timed_out)``.
    """
    streams = {1: bytearray(), 2: bytearray()}
    caps = {1: cap, 2: cap + stderr_extra}
    truncated = False
    pending = bytearray()
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return bytes(streams[1]), bytes(streams[2]), truncated, True
        if stop is not None and stop.is_set():
            return bytes(streams[1]), bytes(streams[2]), truncated, False
        ready, _, _ = select.select([sock], [], [], remaining if stop is None else min(remaining, 0.2))
        if not ready:
            continue
        chunk = sock.recv(65536)
        if not chunk:
            return bytes(streams[1]), bytes(streams[2]), truncated, False
        pending += chunk
        while len(pending) >= 8:
            kind, size = pending[0], struct.unpack(">I", pending[4:8])[0]
            if len(pending) < 8 + size:
                break
            payload = pending[8 : 8 + size]
            del pending[: 8 + size]
            target = streams.get(kind)
            if target is None:
                continue
            room = caps[kind] - len(target)
            if len(payload) > room:
                truncated = True
            if room > 0:
                target += payload[:room]
            if kind == 2 and on_stderr is not None:
                on_stderr(target)


def tar(trees: Mapping[str, Mapping[str, bytes]]) -> bytes:
    """One archive of ``{root: {relative path: bytes}}``, every member a regular file owned by the sandbox user."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as archive:
        for root, files in trees.items():
            for path, data in sorted(files.items()):
                info = tarfile.TarInfo(f"{root.lstrip('/')}/{path}")
                info.size = len(data)
                info.mode = 0o644
                info.uid = info.gid = 65534
                archive.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def untar_regular(data: bytes) -> dict[str, bytes]:
    """Regular files of a tar, by absolute path; links and anything else are ignored."""
    files: dict[str, bytes] = {}
    if not data:
        return files
    try:
        with tarfile.open(fileobj=io.BytesIO(data), mode="r:") as archive:
            for member in archive:
                if member.isreg():
                    extracted = archive.extractfile(member)
                    if extracted is not None:
                        files["/" + member.name.lstrip("/")] = extracted.read()
    except tarfile.TarError:
        return files
    return files

"""Can the MTA reach the milter's socket? Checked at start, said in one line when it cannot.

Why: a milter whose socket the MTA cannot open is worse than none. Postfix logs
``Permission denied`` per message and, with ``milter_default_action = accept``, delivers
everything untagged, forged ``X-Backscatter-Verdict: genuine`` headers included (issue 10).
Started as root, libmilter leaves the socket ``root:root`` under the process's umask, so
the default start was exactly that case.

The check is the kernel's own rule for ``connect(2)`` on a unix socket (path_resolution(7),
unix(7)): write permission on the socket file and search (x) permission on every directory
above it, each judged by owner bits if the user owns it, else group bits if one of the
user's groups owns it, else the other bits. It reads mode bits only: POSIX ACLs, SELinux
and a chroot (Debian runs Postfix's smtpd in /var/spool/postfix) are not seen, which is
why ``--no-socket-check`` can turn a refusal into a warning.
"""

from __future__ import annotations

import grp
import ipaddress
import os
import pwd
import stat
from dataclasses import dataclass
from pathlib import Path

from backscatter.errors import BackscatterError

#: The MTA user (and group) assumed when none is given: Postfix's, when it exists here.
DEFAULT_MTA_USER = "postfix"


@dataclass(frozen=True)
class Account:
    """Who the MTA runs as: the user and every group the kernel counts for it."""

    name: str
    uid: int
    gid: int  # primary group: the socket's default group
    gids: frozenset[int]

    @classmethod
    def named(cls, name: str) -> Account:
        try:
            entry = pwd.getpwnam(name)
        except KeyError:
            raise BackscatterError(f"--mta-user: no user {name!r} on this system") from None
        groups = frozenset(os.getgrouplist(entry.pw_name, entry.pw_gid))
        return cls(entry.pw_name, entry.pw_uid, entry.pw_gid, groups)


def default_mta_user() -> str | None:
    """``postfix`` when that user exists, else None (nothing to check against)."""
    try:
        pwd.getpwnam(DEFAULT_MTA_USER)
    except KeyError:
        return None
    return DEFAULT_MTA_USER


def user_id(name: str) -> int:
    if name.isdigit():
        return int(name)
    try:
        return pwd.getpwnam(name).pw_uid
    except KeyError:
        raise BackscatterError(f"--socket-owner: no user {name!r} on this system") from None


def group_id(name: str) -> int:
    if name.isdigit():
        return int(name)
    try:
        return grp.getgrnam(name).gr_gid
    except KeyError:
        raise BackscatterError(f"--socket-group: no group {name!r} on this system") from None


def describe(path: Path, info: os.stat_result) -> str:
    """``/run/x is root:postfix 0660``: what the check read, as ls would show it."""
    return f"{path} is {permissions(info)}"


def permissions(info: os.stat_result) -> str:
    """``root:postfix 0660``."""
    return f"{_user(info.st_uid)}:{_group(info.st_gid)} {stat.S_IMODE(info.st_mode):04o}"


def set_owner_and_mode(path: Path, uid: int | None, gid: int | None, mode: int) -> None:
    """chown (only what was asked) then chmod; a failure is a plain start-up error."""
    try:
        if uid is not None or gid is not None:
            os.chown(path, -1 if uid is None else uid, -1 if gid is None else gid)
        os.chmod(path, mode)
    except OSError as exc:
        owner = f"{'-' if uid is None else _user(uid)}:{'-' if gid is None else _group(gid)}"
        raise BackscatterError(
            f"cannot give the socket {path} owner {owner} mode {mode:04o}: {exc.strerror} "
            "(start the milter as root, or as a member of --socket-group)"
        ) from None


def unreachable(socket_path: Path, who: Account) -> str | None:
    """Why ``who`` cannot connect to ``socket_path`` (what to change, in one line), or None."""
    if who.uid == 0:
        return None  # root passes every permission check
    path = socket_path.absolute()
    for directory in reversed(path.parents):
        info = os.stat(directory)
        if not _allowed(info, who, stat.S_IXUSR, stat.S_IXGRP, stat.S_IXOTH):
            return (
                f"the MTA user {who.name} cannot reach {path}: {describe(directory, info)} "
                f"(no search permission for {who.name}); chmod o+x it, or chgrp "
                f"{_group(who.gid)} and chmod g+x (systemd: Group={_group(who.gid)}, "
                "RuntimeDirectoryMode=0750)"
            )
    info = os.stat(path)
    if not _allowed(info, who, stat.S_IWUSR, stat.S_IWGRP, stat.S_IWOTH):
        return (
            f"the MTA user {who.name} cannot connect to the milter: {describe(path, info)}; "
            f"use --socket-group {_group(who.gid)} --socket-mode 660 (or --socket-mode 666)"
        )
    return None


def remote_address(spec: str) -> str | None:
    """The host of an ``inet:``/``inet6:`` socket that is not loopback (libmilter's
    ``inet:PORT@HOST`` form), or None for a loopback or unix one. No host means every
    address (INADDR_ANY), so it counts as remote."""
    kind, _, rest = spec.partition(":")
    if kind not in ("inet", "inet6"):
        return None
    _, at, host = rest.partition("@")
    if not at or not host:
        return "every address"
    if host == "localhost":
        return None
    try:
        return None if ipaddress.ip_address(host.strip("[]")).is_loopback else host
    except ValueError:
        return host  # a host name: whatever it resolves to is not checked here


def _allowed(info: os.stat_result, who: Account, owner: int, group: int, other: int) -> bool:
    """The kernel's choice of one permission class (owner, else group, else other)."""
    if info.st_uid == who.uid:
        return bool(info.st_mode & owner)
    if info.st_gid in who.gids:
        return bool(info.st_mode & group)
    return bool(info.st_mode & other)


def _user(uid: int) -> str:
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return str(uid)


def _group(gid: int) -> str:
    try:
        return grp.getgrgid(gid).gr_name
    except KeyError:
        return str(gid)

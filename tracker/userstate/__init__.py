"""An edX-style per-user block state store with bounded history (see :mod:`.client`)."""

from tracker.userstate.client import USER_STATE, UserStateClient, XBlockUserState

__all__ = ["USER_STATE", "UserStateClient", "XBlockUserState"]

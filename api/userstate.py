"""``/users/<username>/state``: a user's block state (edX XBlock user state) and its history.

Written from Python by the learning platform (:class:`tracker.userstate.UserStateClient`);
read here. Reading needs a token with ``state:read``, or one whose ``sub`` is the user.
"""

from __future__ import annotations

from flask import Blueprint, jsonify
from flask.typing import ResponseReturnValue

from api.errors import ApiError
from api.openapi import Auth, Operation, operation
from api.params import parse_query
from api.schemas import (
    UserStateHistoryQuerySchema,
    UserStateHistorySchema,
    UserStateQuerySchema,
    UserStateSchema,
)
from api.state import check_user_id, state
from tracker.userstate import UserStateClient, XBlockUserState

bp = Blueprint("userstate", __name__, url_prefix="/users/<username>/state")

_query, _history_query = UserStateQuerySchema(), UserStateHistoryQuerySchema()
_state, _history = UserStateSchema(), UserStateHistorySchema()


def _row(found: XBlockUserState) -> dict[str, object]:
    return {"block_key": str(found.block_key), "state": found.state, "updated": found.updated}


@bp.get("")
@operation(Operation(tag="user state", response=UserStateSchema, query=UserStateQuerySchema,
                     auth=Auth.STATE, errors=(400,)))
def user_state(username: str) -> ResponseReturnValue:
    """The user's state of each asked block (`?block=` repeated), in the order asked."""
    st = state()
    check_user_id(username)
    st.auth.user_state(username)
    args = parse_query(_query)
    asked = list(dict.fromkeys(args["block"]))
    found = list(st.user_states.get_many(username, asked, fields=args.get("field")))
    have = {f.block_key for f in found}
    return jsonify(_state.dump({"username": username, "blocks": [_row(f) for f in found],
                                "missing": [b for b in asked if b not in have]}))


@bp.get("/history")
@operation(Operation(tag="user state", response=UserStateHistorySchema,
                     query=UserStateHistoryQuerySchema, auth=Auth.STATE, errors=(400,)))
def user_state_history(username: str) -> ResponseReturnValue:
    """The kept writes of one block, newest first (404 `no_history` when there are none)."""
    st = state()
    check_user_id(username)
    st.auth.user_state(username)
    args = parse_query(_history_query)
    try:
        entries = list(st.user_states.get_history(username, args["block"], limit=args["limit"]))
    except UserStateClient.DoesNotExist:
        raise ApiError(404, "no_history", f"User {username!r} has no history in block "
                       f"{args['block']!r}.", user_id=username) from None
    return jsonify(_history.dump({"username": username, "block_key": args["block"],
                                  "entries": [_row(e) for e in entries]}))

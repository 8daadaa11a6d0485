"""Product configuration: products.toml parsing, custom handlers, errors, queues."""

from __future__ import annotations

import tomllib
from collections.abc import Iterable
from pathlib import Path

import pytest

from tests.support.varcade import P1, P2, game_over
from tracker.events import Event, parse_entry
from tracker.handlers import (
    Board,
    EloLeaderboard,
    ExrpsStats,
    Handler,
    IncrScore,
    IncrStat,
    Op,
    PlayerStats,
    TrackingLogs,
    WinsLeaderboard,
    WinStreakLeaderboard,
)
from tracker.products import ConfigError, Product, Products, load_products, parse_products
from tracker.ranking import TieMode

TEST_PRODUCTS = Path(__file__).parents[1] / "products.toml"
SHIPPED_PRODUCTS = Path(__file__).parents[2] / "tracker" / "products.toml"
HERE = "tests.tracker.test_products"


class StreakBonus(Handler):
    """A custom handler, referenced from configuration by import path."""

    name = "streak_bonus"

    def __init__(self, board: str = "bonus", bonus: int = 5) -> None:
        self.board = board
        self.bonus = bonus

    @property
    def boards(self) -> tuple[Board, ...]:
        return (Board(self.board, "points"),)

    def ops(self, event: Event) -> Iterable[Op]:
        if event.type != "game_over":
            return ()
        return (IncrScore(self.board, event["winner_id"], self.bonus),
                IncrStat(event["winner_id"], "bonus_games"))


class NotAHandler:
    def ops(self, event: Event) -> Iterable[Op]:
        return ()


def toml(text: str) -> Products:
    return parse_products(tomllib.loads(text))


def config_error(text: str) -> str:
    with pytest.raises(ConfigError) as info:
        toml(text)
    return str(info.value)


def kinds(product: Product) -> list[type[Handler]]:
    return [type(h) for h in product.handlers]


# --- the files ---------------------------------------------------------------------------


def test_test_configuration() -> None:
    products = load_products(TEST_PRODUCTS)
    assert sorted(products) == ["chess", "cup", "darts", "edx", "exrps", "pong", "race", "snake",
                                "tennis"]
    exrps = products["exrps"]
    assert exrps.queue == "exrps"
    assert kinds(exrps) == [WinsLeaderboard, EloLeaderboard, ExrpsStats]
    elo = exrps.handlers[1]
    assert isinstance(elo, EloLeaderboard) and (elo.k, elo.start) == (32.0, 1500.0)
    assert exrps.boards == (Board("wins", "points"), Board("elo", "rating", 1500.0))
    assert exrps.board("elo") == Board("elo", "rating", 1500.0)
    assert exrps.board("nope") is None
    cup = products["cup"].board("cup")
    assert cup is not None and (cup.attempts, cup.max_players, cup.kind) == (3, 50, "best")


def test_defaults_fall_back_for_an_empty_product_table() -> None:
    pong = load_products(TEST_PRODUCTS)["pong"]
    assert pong.queue == "default"
    assert kinds(pong) == [WinsLeaderboard, PlayerStats]


def test_inline_table_parameters() -> None:
    chess = load_products(TEST_PRODUCTS)["chess"]
    assert chess.queue == "exrps"
    assert kinds(chess) == [EloLeaderboard, PlayerStats]
    elo = chess.handlers[0]
    assert isinstance(elo, EloLeaderboard) and (elo.k, elo.start, elo.board) == (20, 1200, "elo")


def test_shipped_configuration_loads() -> None:
    products = load_products(str(SHIPPED_PRODUCTS))
    assert list(products) == ["exrps", "edx", "snake"]
    assert kinds(products["exrps"]) == [WinsLeaderboard, EloLeaderboard, WinStreakLeaderboard,
                                        ExrpsStats]
    assert kinds(products["edx"]) == [TrackingLogs] and products["edx"].queue == "default"
    wins, elo, _streak = products["exrps"].boards
    assert wins.periods is not None and elo.periods is None
    assert [k.value for k in wins.periods.kinds] == ["week", "month"]
    assert products.queues == ["default", "exrps"]
    high, total, fastest = products["snake"].boards  # the demo's arcade game's scores
    assert (high.kind, total.kind, products["snake"].queue) == ("best", "points", "default")
    assert high.earliest and total.earliest and high.records and total.records
    assert high.periods is not None and total.periods is None
    # equal bests by the quickest run: a subscore, so no time tie-break
    assert (fastest.kind, fastest.subscore, fastest.earliest) == ("best", "asc", False)


def test_no_configuration_at_all() -> None:
    products = parse_products({})
    assert len(products) == 0 and products.default_queue == "default"
    assert products.queues == ["default"]
    assert products.queue_for("exrps") == "default"


def test_builtin_defaults_when_the_default_section_names_no_handlers() -> None:
    products = toml('[default]\nqueue = "q"\n[products]\ngame = {}\n')
    assert kinds(products["game"]) == [WinsLeaderboard, PlayerStats]
    assert products["game"].queue == "q"


def test_default_handlers_from_configuration() -> None:
    products = toml('[default]\nhandlers = [{ use = "wins", points = 2 }]\n'
                    '[products]\na = {}\nb = { handlers = ["elo"] }\n')
    assert kinds(products["a"]) == [WinsLeaderboard]
    assert products["a"].handlers[0].points == 2.0  # type: ignore[attr-defined]
    assert kinds(products["b"]) == [EloLeaderboard]


def test_each_product_gets_its_own_handler_instances() -> None:
    products = toml("[products]\na = {}\nb = {}\n")
    assert products["a"].handlers[0] is not products["b"].handlers[0]


def test_builtin_parameters() -> None:
    products = toml('[products]\ng = { handlers = [\n'
                    '  { use = "wins", board = "w", points = 3, loser_on_board = false },\n'
                    '  { use = "elo", board = "r", k = 24, start = 1200 },\n'
                    '  "exrps_stats" ] }\n')
    wins, elo, _ = products["g"].handlers
    assert isinstance(wins, WinsLeaderboard)
    assert (wins.board, wins.points, wins.loser_on_board) == ("w", 3.0, False)
    assert isinstance(elo, EloLeaderboard) and (elo.board, elo.k, elo.start) == ("r", 24.0, 1200.0)
    assert [b.name for b in products["g"].boards] == ["w", "r"]


def test_empty_handler_list_is_allowed() -> None:
    assert toml("[products]\nquiet = { handlers = [] }\n")["quiet"].handlers == ()


# --- custom handlers by import path ---------------------------------------------------------


def test_custom_handler_by_import_path() -> None:
    products = toml(f'[products]\ngame = {{ handlers = ["wins", "{HERE}:StreakBonus"] }}\n')
    assert kinds(products["game"]) == [WinsLeaderboard, StreakBonus]
    assert [b.name for b in products["game"].boards] == ["wins", "bonus"]


def test_custom_handler_with_parameters_produces_ops() -> None:
    products = toml(f'[products]\ngame = {{ handlers = [\n'
                    f'  {{ use = "{HERE}:StreakBonus", board = "streaks", bonus = 7 }}] }}\n')
    (handler,) = products["game"].handlers
    event = parse_entry("1-0", game_over("game", P1, P2))
    assert list(handler.ops(event)) == [IncrScore("streaks", P1, 7),
                                        IncrStat(P1, "bonus_games", 1)]


# --- errors ----------------------------------------------------------------------------------


def test_unknown_handler_name() -> None:
    message = config_error('[products]\ng = { handlers = ["winz"] }\n')
    assert "winz" in message and "wins" in message and "module:Class" in message


@pytest.mark.parametrize("path", [
    "tests.tracker.no_such_module:Handler",
    f"{HERE}:NoSuchClass",
    ":StreakBonus",
    "tests.tracker.test_products:",
])
def test_import_path_that_does_not_resolve(path: str) -> None:
    message = config_error(f'[products]\ng = {{ handlers = ["{path}"] }}\n')
    assert path in message


@pytest.mark.parametrize("path", [f"{HERE}:NotAHandler", f"{HERE}:HERE", "builtins:dict",
                                  f"{HERE}:toml"])
def test_import_path_that_is_not_a_handler_class(path: str) -> None:
    message = config_error(f'[products]\ng = {{ handlers = ["{path}"] }}\n')
    assert path in message and "Handler" in message


@pytest.mark.parametrize(("spec", "words"), [
    ('{ use = "wins", bogus = 1 }', ["products.g.handlers", "wins", "bogus"]),
    ('{ use = "player_stats", board = "x" }', ["products.g.handlers", "player_stats"]),
    ('{ use = "elo", k = 0 }', ["products.g.handlers", "elo", "K"]),
    ('{ use = "elo", k = -5 }', ["products.g.handlers", "elo", "K"]),
    ('{ use = "elo", k = nan }', ["products.g.handlers", "elo", "K"]),
    ('{ use = "elo", k = inf }', ["products.g.handlers", "elo", "K"]),
    ('{ use = "elo", start = inf }', ["products.g.handlers", "elo", "start"]),
    ('{ use = "elo", k = "fast" }', ["products.g.handlers", "elo", "fast"]),
    ('{ use = "wins", points = "many" }', ["products.g.handlers", "wins", "many"]),
    ('{ use = "wins", points = nan }', ["products.g.handlers", "wins", "points"]),
    (f'{{ use = "{HERE}:StreakBonus", nope = 1 }}', ["products.g.handlers", "nope"]),
])
def test_bad_parameters(spec: str, words: list[str]) -> None:
    message = config_error(f"[products]\ng = {{ handlers = [{spec}] }}\n")
    for word in words:
        assert word in message


@pytest.mark.parametrize("spec", ["1", "{ k = 24 }", "{ use = 3 }", "[\"wins\"]", "true"])
def test_a_handler_is_a_name_or_a_table_with_use(spec: str) -> None:
    message = config_error(f"[products]\ng = {{ handlers = [{spec}] }}\n")
    assert "products.g.handlers" in message and "use" in message


@pytest.mark.parametrize("value", ['"wins"', "3", "{ use = \"wins\" }"])
def test_handlers_must_be_a_list(value: str) -> None:
    message = config_error(f"[products]\ng = {{ handlers = {value} }}\n")
    assert "products.g" in message and "list" in message


def test_default_handlers_must_be_a_list() -> None:
    message = config_error('[default]\nhandlers = "wins"\n[products]\ng = {}\n')
    assert "default.handlers" in message and "list" in message


@pytest.mark.parametrize("text", ['default = "x"\n', 'products = ["exrps"]\n'])
def test_sections_must_be_tables(text: str) -> None:
    assert "table" in config_error(text)


@pytest.mark.parametrize("product", ["bad id", "a{b}", "a:b", "-x", "x" * 65, "exrps\\n", ""])
def test_bad_product_id(product: str) -> None:
    message = config_error(f'[products]\n"{product}" = {{}}\n')
    assert "product ids" in message


def test_product_entry_must_be_a_table() -> None:
    message = config_error('[products]\ng = "wins"\n')
    assert "products.g" in message and "table" in message


@pytest.mark.parametrize("handlers", [
    '["wins", "wins"]',
    '["wins", { use = "elo", board = "wins" }]',
    '["elo", { use = "elo", k = 10 }]',
    f'["wins", {{ use = "{HERE}:StreakBonus", board = "wins" }}]',
])
def test_two_handlers_writing_one_board(handlers: str) -> None:
    message = config_error(f"[products]\ng = {{ handlers = {handlers} }}\n")
    assert "products.g" in message and "same board" in message


def test_same_board_name_in_two_products_is_fine() -> None:
    products = toml('[products]\na = { handlers = ["wins"] }\nb = { handlers = ["wins"] }\n')
    assert products["a"].boards == products["b"].boards


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read product configuration"):
        load_products(tmp_path / "nope.toml")


def test_a_directory_is_not_a_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=str(tmp_path)):
        load_products(tmp_path)


def test_invalid_toml(tmp_path: Path) -> None:
    path = tmp_path / "products.toml"
    path.write_text("[products\nexrps = {}\n")
    with pytest.raises(ConfigError, match="cannot read product configuration"):
        load_products(path)


def test_file_that_is_not_utf8(tmp_path: Path) -> None:
    path = tmp_path / "products.toml"
    path.write_bytes(b'[products]\n# caf\xe9\nexrps = {}\n')
    with pytest.raises(ConfigError, match="cannot read product configuration"):
        load_products(path)


def test_config_error_is_a_value_error() -> None:
    assert issubclass(ConfigError, ValueError)


# --- queues -------------------------------------------------------------------------------------


def test_queues_of_the_test_configuration() -> None:
    products = load_products(TEST_PRODUCTS)
    assert products.queues == ["default", "exrps"]
    assert products.queue_for("exrps") == "exrps"
    assert products.queue_for("chess") == "exrps"
    assert products.queue_for("pong") == "default"


@pytest.mark.parametrize("product", ["unknown", "", "EXRPS", "default"])
def test_unknown_product_goes_to_the_default_queue(product: str) -> None:
    products = toml('[default]\nqueue = "main"\n[products]\nexrps = { queue = "rps" }\n')
    assert products.queue_for(product) == "main"
    assert product not in products


def test_queues_are_listed_once_default_first() -> None:
    products = toml('[default]\nqueue = "main"\n[products]\n'
                    'a = { queue = "q2" }\nb = { queue = "q1" }\nc = { queue = "q2" }\n'
                    'd = {}\ne = { queue = "main" }\n')
    assert products.queues == ["main", "q2", "q1"]


def test_products_is_a_read_only_mapping() -> None:
    products = load_products(TEST_PRODUCTS)
    assert len(products) == 9 and "exrps" in products and "nope" not in products
    assert products.get("nope") is None
    with pytest.raises(KeyError):
        products["nope"]
    assert not hasattr(products, "__setitem__")



# --- tie modes and board names --------------------------------------------------------------


def test_tie_modes_from_handler_product_and_default() -> None:
    products = toml(
        '[default]\nties = "ordinal"\n[products]\n'
        'a = { handlers = ["wins", { use = "elo", ties = "dense" }] }\n'
        'b = { ties = "dense", handlers = ["wins", { use = "elo", ties = "competition" }] }\n'
        'c = {}\n')
    assert [(b.name, b.ties) for b in products["a"].boards] == [
        ("wins", TieMode.ORDINAL), ("elo", TieMode.DENSE)]
    assert [(b.name, b.ties) for b in products["b"].boards] == [
        ("wins", TieMode.DENSE), ("elo", TieMode.COMPETITION)]
    assert products["c"].board("wins") == Board("wins", "points", ties=TieMode.ORDINAL)
    assert toml("[products]\nd = {}\n")["d"].boards[0].ties is TieMode.COMPETITION
    chess = load_products(TEST_PRODUCTS)["chess"]
    assert chess.board("elo") == Board("elo", "rating", 1200.0, TieMode.DENSE)


@pytest.mark.parametrize("text, where", [
    ('[products]\na = { handlers = [{ use = "wins", ties = "fair" }] }', "products.a.handlers"),
    ('[products]\na = { ties = 1 }', "products.a"),
    ('[default]\nties = "Dense"\n', "default"),
])
def test_bad_tie_modes_are_config_errors(text: str, where: str) -> None:
    message = config_error(text)
    assert message.startswith(where) and "ties is one of" in message


@pytest.mark.parametrize("board", ["a:b", "", "x/y", "{t}", "-lead", "a" * 65])
def test_board_names_that_would_clash_in_keys_or_urls_are_refused(board: str) -> None:
    handler = f'{{ use = "wins", board = "{board}" }}'
    message = config_error(f"[products]\na = {{ handlers = [{handler}] }}")
    assert "board names" in message

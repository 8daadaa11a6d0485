// Leaderboards page: lists the products' boards and shows a page of one (or the rows
// around a player), asking the read API. Public boards need no token; where boards
// need one, it may come in the URL fragment, which browsers never send to a server:
// /dashboard/boards#product=<id>&board=<name>&player=<user id>&token=<jwt>.
"use strict";

const $ = (id) => document.getElementById(id);
let products = [];
let token = "";

async function ask(path) {
  const headers = token ? { Authorization: `Bearer ${token}` } : {};
  const response = await fetch(path, { headers });
  const body = await response.json();
  if (!response.ok) throw new Error(body.message || `HTTP ${response.status}`);
  return body;
}

function options(select, values, chosen) {
  select.replaceChildren();
  for (const [value, label] of values) {
    const option = document.createElement("option");
    option.value = value;
    option.textContent = label;  // text, never HTML: the data cannot inject markup
    select.appendChild(option);
  }
  if (values.some(([value]) => value === chosen)) select.value = chosen;
}

function chosenProduct() {
  return products.find((p) => p.id === $("product").value);
}

function chosenBoard() {
  const product = chosenProduct();
  return product && product.boards.find((b) => b.name === $("board").value);
}

function listBoards(chosen) {
  const product = chosenProduct();
  options($("board"), (product ? product.boards : []).map((b) => [b.name, b.name]), chosen);
}

async function listPeriods(chosen) {
  const board = chosenBoard();
  const periods = [["", "all-time"]];
  if (board && board.periods) {
    const path = `${boardPath($("product").value, board.name)}/periods`;
    // a board on another clock than UTC says which: its days are that clock's days
    const { time_zone: zone, utc_offset: offset } = board.periods;
    const clock = zone || (offset && offset !== "+00:00" ? `UTC${offset}` : "");
    const of = clock ? `, ${clock}` : "";
    for (const p of (await ask(path)).periods) periods.push([p.id, `${p.id} (${p.kind}${of})`]);
  }
  options($("period"), periods, chosen || "");
}

function cell(row, text, numeric) {
  const td = document.createElement("td");
  td.textContent = text;
  if (numeric) td.className = "num";
  row.appendChild(td);
}

// The API address of a product's board, relative to this page.
function boardPath(product, board) {
  return `../products/${encodeURIComponent(product)}/boards/${encodeURIComponent(board)}`;
}

function plural(n, noun) {
  return `${n} ${noun}${n === 1 ? "" : "s"}`;
}

// A tournament board's limits, as they hold for what is shown: per period on a board
// kept per period (its all-time board takes every submission), else all-time.
function attempts(board, period) {
  if (!board || (!board.attempts && !board.max_players && !board.join_required) ||
      (board.periods && !period)) {
    return "";
  }
  const of = period ? " of the period" : "";
  const joining = board.join_required ? " to join" : "";
  return (board.attempts ? `; each player's first ${plural(board.attempts, "submission")}` +
                           `${of} count` : "") +
         (board.max_players ? `; the first ${plural(board.max_players, "player")}${of}` +
                              `${joining} are in` : "") +
         (board.join_required ? "; only the players who joined count" : "");
}

// A board's write rate limit, which holds on every period's board alike.
function rateNote(board) {
  if (!board || !board.rate_limit) return "";
  const limit = board.rate_limit;
  return `; at most ${plural(limit.submissions, "submission")} of a player per ` +
         `${limit.seconds} s count`;
}

function subscoreNote(board) {
  if (!board || !board.subscore) return "";
  const first = board.subscore === "asc" ? "lowest" : "highest";
  return `; score / subscore, equal scores by the ${first} subscore`;
}

function render(body, player) {
  const rows = $("rows");
  rows.replaceChildren();
  for (const entry of body.entries) {
    const tr = document.createElement("tr");
    if (entry.user_id === player) tr.className = "me";
    cell(tr, entry.rank, true);
    cell(tr, entry.user_id);
    // a board with a subscore ranks by both columns
    cell(tr, entry.subscore === undefined ? entry.score : `${entry.score} / ${entry.subscore}`,
         true);
    cell(tr, entry.submissions ?? "", true);
    cell(tr, entry.last_at ? new Date(entry.last_at).toISOString().slice(0, 19) : "");
    cell(tr, entry.metadata ? JSON.stringify(entry.metadata) : "");
    rows.appendChild(tr);
  }
  const period = body.period ? `, ${body.period}` : "";
  $("board-title").textContent = `${body.product_id} · ${body.board}${period}`;
  $("board-about").textContent = `${plural(body.size, "player")}, ranked ${body.ties}` +
    attempts(chosenBoard(), body.period) + rateNote(chosenBoard()) +
    subscoreNote(chosenBoard()) +
    (body.entries.length ? `; rows ${body.offset + 1} to ${body.offset + body.entries.length}`
                         : "; no rows");
  for (const [id, cursor] of [["prev", body.prev_cursor], ["next", body.next_cursor]]) {
    $(id).hidden = !cursor;
    $(id).onclick = () => show(cursor);
  }
  $("board-view").hidden = false;
}

// A tournament that players join: who joined (of the period shown), scored or not.
async function showLobby(product, board, period) {
  const lobby = $("lobby");
  lobby.hidden = !(board && board.join_required && (period || !board.periods));
  if (lobby.hidden) return;
  const query = new URLSearchParams({ limit: "100" });
  if (period) query.set("period", period);
  const body = await ask(`${boardPath(product, board.name)}/joined?${query}`);
  const shown = body.players.map((p) => p.user_id).join(", ");
  lobby.textContent = `Joined: ${plural(body.size, "player")}` +
    (shown ? `, the first to join first: ${shown}` : "") +
    (body.size > body.players.length ? " …" : "");
}

// Around a player on a board kept per period: its rank in each period still readable.
async function showPlayerPeriods(product, board, player, ties) {
  const line = $("player-periods");
  line.hidden = !(player && board && board.periods);
  if (line.hidden) return;
  const query = new URLSearchParams();
  if (ties) query.set("ties", ties);
  const body = await ask(`${boardPath(product, board.name)}/players/` +
                         `${encodeURIComponent(player)}/periods?${query}`);
  const shown = body.periods.map((p) => {
    const score = p.subscore === undefined ? p.score : `${p.score} / ${p.subscore}`;
    return `${p.id} (${p.kind}): ${p.rank} of ${p.size}, ${score}`;
  });
  line.textContent = shown.length ? `${player} by period: ${shown.join("; ")}`
                                  : `${player} is on none of its periods still kept`;
}

async function show(cursor) {
  const status = $("status");
  status.className = "";
  status.textContent = "Loading…";
  const product = $("product").value, board = $("board").value;
  const player = $("player").value.trim();
  const query = new URLSearchParams();
  if ($("ties").value) query.set("ties", $("ties").value);
  if ($("period").value) query.set("period", $("period").value);
  let path = boardPath(product, board);
  if (player && !cursor) {
    path += `/players/${encodeURIComponent(player)}/around`;
  } else {
    path += "/entries";
    query.set("limit", "25");
    if (cursor) query.set("cursor", cursor);
  }
  try {
    render(await ask(`${path}?${query}`), player);
    await showLobby(product, chosenBoard(), $("period").value);
    await showPlayerPeriods(product, chosenBoard(), cursor ? "" : player, $("ties").value);
    status.textContent = "";
  } catch (error) {
    $("board-view").hidden = true;
    status.className = "error";
    status.textContent = error.message;
  }
}

document.addEventListener("DOMContentLoaded", async () => {
  const given = new URLSearchParams(location.hash.slice(1));
  if (given.get("token")) {
    sessionStorage.setItem("token", given.get("token"));
    given.delete("token");
    history.replaceState(null, "", `${location.pathname}#${given}`);  // not in the bar
  }
  token = sessionStorage.getItem("token") || "";
  $("player").value = given.get("player") || "";
  if (given.get("ties")) $("ties").value = given.get("ties");
  try {
    products = (await ask("../products")).products;
  } catch (error) {
    $("status").className = "error";
    $("status").textContent = error.message;
    return;
  }
  options($("product"), products.map((p) => [p.id, p.id]), given.get("product"));
  listBoards(given.get("board"));
  await listPeriods(given.get("period"));
  $("product").addEventListener("change", async () => { listBoards(); await listPeriods(); });
  $("board").addEventListener("change", () => listPeriods());
  $("ask").addEventListener("submit", (event) => { event.preventDefault(); show(); });
  if ($("board").value) show();
});

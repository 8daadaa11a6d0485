// Course analytics page: asks the read API with the user's token and shows the answer.
// The token stays in this tab (sessionStorage) and may come in the URL fragment, which
// browsers never send to a server: /dashboard/#course=<id>&token=<jwt>.
"use strict";

const $ = (id) => document.getElementById(id);

function hours(seconds) {
  const h = Math.floor(seconds / 3600), m = Math.floor((seconds % 3600) / 60);
  return `${h} h ${String(m).padStart(2, "0")} min`;
}

function cell(row, text, numeric) {
  const td = document.createElement("td");
  td.textContent = text;  // text, never HTML: the data cannot inject markup
  if (numeric) td.className = "num";
  row.appendChild(td);
}

function fill(tbody, rows, columns) {
  tbody.replaceChildren();
  for (const item of rows) {
    const tr = document.createElement("tr");
    for (const [value, numeric] of columns(item)) cell(tr, value, numeric);
    tbody.appendChild(tr);
  }
}

async function ask(path, token) {
  const response = await fetch(path, { headers: { Authorization: `Bearer ${token}` } });
  const body = await response.json();
  if (!response.ok) throw new Error(body.message || `HTTP ${response.status}`);
  return body;
}

async function show(course, token) {
  const status = $("status");
  status.className = "";
  status.textContent = "Loading…";
  for (const id of ["summary", "days", "units", "videos", "learners"]) $(id).hidden = true;
  const base = `../courses/${encodeURIComponent(course)}/analytics`;
  try {
    const [report, learners] = await Promise.all([ask(base, token),
                                                  ask(`${base}/learners`, token)]);
    $("summary-title").textContent = report.course_id;
    $("learner-count").textContent = report.learners;
    $("time-5").textContent = hours(report.total_time_5min_s);
    $("time-30").textContent = hours(report.total_time_30min_s);
    fill($("day-rows"), report.days, (d) => [
      [d.date], [d.learners, true], [hours(d.time_5min_s), true],
      [hours(d.time_30min_s), true]]);
    fill($("unit-rows"), report.units, (u) => [
      [u.unit], [u.learners, true], [hours(u.time_5min_s), true],
      [hours(u.time_30min_s), true]]);
    fill($("video-rows"), report.videos, (v) => [
      [v.video_id], [v.duration == null ? "unknown" : `${v.duration} s`, true],
      [v.viewers, true], [`${Math.round(v.watch_time_s)} s`, true],
      [v.mean_coverage == null ? "unknown" : `${Math.round(v.mean_coverage * 100)} %`, true],
      [v.completed_eol_coverage_0_9, true], [v.completed_insights_end_reached, true]]);
    fill($("learner-rows"), learners.learners, (l) => [
      [l.username], [l.name || ""], [l.email || ""], [hours(l.time_5min_s), true],
      [hours(l.time_30min_s), true], [l.sessions_30min, true]]);
    for (const id of ["summary", "days", "units", "videos", "learners"]) $(id).hidden = false;
    status.textContent = "";
  } catch (error) {
    status.className = "error";
    status.textContent = error.message;
  }
}

// The courses this token may read, offered in the course field; the only one is chosen.
async function offerCourses(token) {
  try {
    const { courses } = await ask("../courses", token);
    const list = $("my-courses");
    list.replaceChildren();
    for (const c of courses) {
      const option = document.createElement("option");
      option.value = c.course_id;
      option.label = `${c.role || "admin"}${c.has_report ? "" : " (no analytics yet)"}`;
      list.appendChild(option);
    }
    const readable = courses.filter((c) => c.has_report);
    if (!$("course").value && readable.length === 1) {
      $("course").value = readable[0].course_id;
      show($("course").value, token);
    }
  } catch (error) {
    $("status").className = "error";
    $("status").textContent = error.message;
  }
}

document.addEventListener("DOMContentLoaded", () => {
  const given = new URLSearchParams(location.hash.slice(1));
  if (given.get("token")) {
    sessionStorage.setItem("token", given.get("token"));
    history.replaceState(null, "", location.pathname);  // the token leaves the address bar
  }
  $("course").value = given.get("course") || sessionStorage.getItem("course") || "";
  $("token").value = sessionStorage.getItem("token") || "";
  $("ask").addEventListener("submit", (event) => {
    event.preventDefault();
    sessionStorage.setItem("course", $("course").value);
    sessionStorage.setItem("token", $("token").value);
    show($("course").value.trim(), $("token").value.trim());
  });
  if ($("token").value) offerCourses($("token").value);
  if ($("course").value && $("token").value) show($("course").value, $("token").value);
});

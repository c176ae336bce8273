// malpyeong-eval pages: sorting, filtering, opening items. Plain JavaScript, nothing fetched;
// every text is read from and written to the page with textContent (never as HTML).
"use strict";

function params() {
  try { return new URLSearchParams(window.location.search); } catch (e) { return new URLSearchParams(""); }
}

function setParam(key, value) {
  try {
    const url = new URL(window.location.href);
    if (value) { url.searchParams.set(key, value); } else { url.searchParams.delete(key); }
    window.history.replaceState(null, "", url.toString());
  } catch (e) { /* file: pages may refuse; the page still works */ }
}

// -- sorting: a click on a header with data-key sorts the table by that column -----------------------
function cellValue(row, key, kind) {
  const cell = row.querySelector('td[data-key="' + key + '"]');
  const raw = cell ? cell.getAttribute("data-value") : "";
  if (raw === null || raw === "" || raw === "—") { return null; }
  return kind === "num" ? parseFloat(raw) : raw.toLowerCase();
}

function sortTable(table, key, dir) {
  const header = table.querySelector('th[data-key="' + key + '"]');
  if (!header) { return false; }
  const kind = header.getAttribute("data-kind");
  const body = table.tBodies[0];
  const rows = Array.from(body.rows).filter(r => !r.classList.contains("detail"));
  const details = new Map(Array.from(body.rows).filter(r => r.classList.contains("detail")).map(r => [r.getAttribute("data-for"), r]));
  rows.sort((a, b) => {
    const va = cellValue(a, key, kind), vb = cellValue(b, key, kind);
    if (va === null && vb === null) { return 0; }
    if (va === null) { return 1; }  // empty values last, whichever the direction
    if (vb === null) { return -1; }
    const order = va < vb ? -1 : va > vb ? 1 : 0;
    return dir === "asc" ? order : -order;
  });
  for (const row of rows) {
    body.appendChild(row);
    const detail = details.get(row.getAttribute("data-item"));
    if (detail) { body.appendChild(detail); }
  }
  table.querySelectorAll("th[data-key]").forEach(th => th.removeAttribute("aria-sort"));
  header.setAttribute("aria-sort", dir === "asc" ? "ascending" : "descending");
  const state = document.getElementById(table.id === "runs" ? "sort-state" : "items-sort-state");
  if (state) {
    state.textContent = "sorted by " + header.getAttribute("data-label") + ", " + (dir === "asc" ? "ascending" : "descending") + " (empty values last)";
  }
  return true;
}

function setupSorting() {
  document.querySelectorAll("table.sortable").forEach(table => {
    table.querySelectorAll("th[data-key]").forEach(th => {
      th.classList.add("clickable");
      th.addEventListener("click", () => {
        const key = th.getAttribute("data-key");
        const current = th.getAttribute("aria-sort");
        const dir = current === "descending" ? "asc" : current === "ascending" ? "desc" : (th.getAttribute("data-kind") === "num" ? "desc" : "asc");
        sortTable(table, key, dir);
        if (table.id === "runs") { setParam("sort", key); setParam("dir", dir); }
      });
    });
  });
}

// -- the leaderboard: filters on tag, dataset, model and scoring rules -------------------------------
function setupLeaderboard() {
  const table = document.getElementById("runs");
  if (!table) { return; }
  const selects = Array.from(document.querySelectorAll("#board-filters select"));
  const query = params();
  for (const select of selects) {
    const name = select.getAttribute("data-filter");
    const wanted = query.get(name === "tags" ? "tag" : name);
    if (wanted !== null && Array.from(select.options).some(o => o.value === wanted)) { select.value = wanted; }
  }
  function apply() {
    let shown = 0;
    for (const row of table.tBodies[0].rows) {
      let ok = true;
      for (const select of selects) {
        const name = select.getAttribute("data-filter"), value = select.value;
        if (!value) { continue; }
        if (name === "tags") { ok = ok && JSON.parse(row.getAttribute("data-tags") || "[]").includes(value); }
        else { ok = ok && row.getAttribute("data-" + name) === value; }
      }
      row.hidden = !ok;
      shown += ok ? 1 : 0;
    }
    document.getElementById("shown-count").textContent = shown + (shown === 1 ? " run" : " runs") + " shown";
  }
  selects.forEach(select => select.addEventListener("change", () => {
    const name = select.getAttribute("data-filter");
    setParam(name === "tags" ? "tag" : name, select.value);
    apply();
  }));
  apply();
  if (query.get("sort")) { sortTable(table, query.get("sort"), query.get("dir") === "asc" ? "asc" : "desc"); }
  const button = document.getElementById("compare-selected");
  if (button) {
    button.addEventListener("click", () => {
      const ids = Array.from(table.querySelectorAll("input.pick-run:checked")).map(box => box.value);
      if (ids.length < 2) { button.nextElementSibling.textContent = "tick two or more runs first"; return; }
      window.location.href = button.getAttribute("data-url") + "?" + ids.map(id => "run=" + encodeURIComponent(id)).join("&");
    });
  }
}

// -- a run: item filters, rows that open -------------------------------------------------------------
function setupItems() {
  const table = document.getElementById("items");
  if (!table) { return; }
  const type = document.getElementById("i-type"), counted = document.getElementById("i-counted");
  const em = document.getElementById("i-em"), search = document.getElementById("i-search");
  const rows = Array.from(table.tBodies[0].rows).filter(r => r.classList.contains("item"));
  const detailOf = row => table.querySelector('tr.detail[data-for="' + CSS.escape(row.getAttribute("data-item")) + '"]');
  function apply() {
    const needle = search.value.trim().toLowerCase();
    let shown = 0;
    for (const row of rows) {
      const detail = detailOf(row);
      const text = (row.textContent + " " + (detail ? detail.textContent : "")).toLowerCase();
      const ok = (!type.value || row.getAttribute("data-type") === type.value)
        && (!counted.value || row.getAttribute("data-counted") === counted.value)
        && (!em.value || row.getAttribute("data-em") === em.value)
        && (!needle || text.includes(needle));
      row.hidden = !ok;
      if (detail && !ok) { detail.hidden = true; }
      shown += ok ? 1 : 0;
    }
    document.getElementById("items-count").textContent = shown + " of " + rows.length + " items";
  }
  [type, counted, em].forEach(el => el.addEventListener("change", apply));
  search.addEventListener("input", apply);
  for (const row of rows) {
    row.classList.add("clickable");
    row.addEventListener("click", () => { const detail = detailOf(row); if (detail) { detail.hidden = !detail.hidden; } });
  }
  const query = params();
  if (query.get("type")) { type.value = query.get("type"); }
  if (query.get("q")) { search.value = query.get("q"); }
  apply();
}

// -- a comparison: "changed only" ------------------------------------------------------------------------
function setupCompare() {
  const table = document.getElementById("compare-items");
  if (!table) { return; }
  const only = document.getElementById("changed-only"), threshold = document.getElementById("threshold");
  const rows = Array.from(table.tBodies[0].rows);
  function apply() {
    const limit = parseFloat(threshold.value);
    let shown = 0;
    for (const row of rows) {
      const changed = row.getAttribute("data-em-flip") === "1" || parseFloat(row.getAttribute("data-max-move")) > (isNaN(limit) ? 0 : limit);
      row.hidden = only.checked && !changed;
      shown += row.hidden ? 0 : 1;
    }
    document.getElementById("compare-count").textContent = shown + " of " + rows.length + " items";
  }
  only.addEventListener("change", apply);
  threshold.addEventListener("input", apply);
  apply();
}

document.addEventListener("DOMContentLoaded", () => { setupSorting(); setupLeaderboard(); setupItems(); setupCompare(); });

/*
 * llmctl dashboard: what llmctld's API shows the user who ran
 * `llmctl dashboard`, drawn in the browser. Every request is a GET of
 * /v1/... that llmctl dashboard relays to llmctld's socket as that user.
 * Views (location.hash): "" the jobs, goodput and cluster; "#job/ID" one
 * job's attempts on a timeline. The first load arrives as "#session=S":
 * S goes into this tab's sessionStorage (this origin only) and with every
 * API request as "Authorization: Bearer S"; the cookie alone is not
 * enough (cli/cmd-dashboard.c says why). Data is put in the page with textContent
 * and SVG attributes only, never parsed as HTML.
 * When a view has drawn its data, <body data-loaded> names it; <body
 * data-streamed> counts the events that made it draw again.
 */
"use strict";

const SVG = "http://www.w3.org/2000/svg";
const FINAL = ["COMPLETED", "FAILED", "CANCELLED"];
const BUCKETS = ["productive_s", "startup_s", "queue_s", "recovery_s",
	"lost_s", "ckpt_stall_s"];
let refreshTimer = null;
let streamAbort = null;
let drawing = false;
const SESSION = "llmctl-dashboard-session";
if (location.hash.startsWith("#session=")) {
	sessionStorage.setItem(SESSION, location.hash.slice("#session=".length));
	history.replaceState(null, "", "/");
}
const bearer = sessionStorage.getItem(SESSION);
/* llmctld counts connections per user: a few requests at a time */
const PARALLEL = 6;

function h(tag, attrs, ...kids) {
	const el = document.createElement(tag);
	for (const [k, v] of Object.entries(attrs || {})) {
		if (v === null || v === undefined)
			continue;
		if (k === "class")
			el.className = v;
		else if (k.startsWith("data-"))
			el.setAttribute(k, String(v));
		else
			el[k] = v;
	}
	for (const kid of kids.flat()) {
		if (kid === null || kid === undefined)
			continue;
		el.append(kid instanceof Node ? kid : String(kid));
	}
	return el;
}

function s(tag, attrs, ...kids) {
	const el = document.createElementNS(SVG, tag);
	for (const [k, v] of Object.entries(attrs || {}))
		el.setAttribute(k, String(v));
	for (const kid of kids.flat())
		el.append(kid instanceof Node ? kid : String(kid));
	return el;
}

async function api(path) {
	if (!bearer)
		throw new Error("this tab has no session: open the URL llmctl dashboard printed " +
			"(it works once), or run llmctl dashboard again");
	const r = await fetch(path, { credentials: "same-origin",
		headers: { Authorization: "Bearer " + bearer } });
	let body = null;
	try {
		body = await r.json();
	} catch (e) {
		body = null;
	}
	if (!r.ok) {
		const msg = body && body.error ? body.error : r.status + " " + r.statusText;
		throw new Error(path + ": " + msg);
	}
	return body;
}

function when(t) {
	if (!t)
		return "—";
	const d = new Date(t * 1000);
	return d.toLocaleString(undefined, { hour12: false });
}

function dur(sec) {
	if (sec === null || sec === undefined)
		return "—";
	sec = Math.round(sec);
	if (sec < 60)
		return sec + " s";
	if (sec < 3600)
		return Math.floor(sec / 60) + " min " + (sec % 60) + " s";
	return Math.floor(sec / 3600) + " h " + Math.floor(sec % 3600 / 60) + " min";
}

function ettr(job) {
	const g = job && job.goodput;
	if (!g || typeof g.ettr !== "number")
		return "—";
	return (g.ettr * 100).toFixed(1) + " %";
}

function stateCell(state) {
	return h("td", { class: "state s-" + state, "data-state": state }, state);
}

function setStatus(text, error) {
	const el = document.getElementById("status");
	el.textContent = text;
	el.className = error ? "error" : "";
}

/* ---- the overview ------------------------------------------------------ */

function jobsSection(jobs) {
	const sec = h("section", { id: "jobs" }, h("h2", {}, "Jobs"));
	if (jobs.length === 0) {
		sec.append(h("p", { class: "empty" }, "No jobs."));
		return sec;
	}
	const rows = jobs.map((j) => h("tr", { "data-job-id": j.id, "data-job-name": j.name },
		h("td", { class: "num" }, h("a", { href: "#job/" + j.id }, String(j.id))),
		h("td", {}, h("a", { href: "#job/" + j.id }, j.name)),
		h("td", {}, j.user),
		stateCell(j.state),
		h("td", { class: "num" }, String(j.attempt)),
		h("td", { class: "num" }, j.nodes + "×" + j.gpus_per_node),
		h("td", {}, j.node_list || "—"),
		h("td", { class: "num ettr" }, ettr(j)),
		h("td", { class: "muted" }, j.reason || ""),
		h("td", { class: "muted" }, when(j.updated_at))));
	sec.append(h("table", {},
		h("thead", {}, h("tr", {}, ["id", "name", "user", "state", "attempts",
			"nodes×gpus", "node list", "ETTR", "reason", "updated"].map((t) => h("th", {}, t)))),
		h("tbody", {}, rows)));
	return sec;
}

/* Where each running job's ranks are: node name -> [{job, ranks}]. */
function placements(details) {
	const at = new Map();
	for (const d of details) {
		if (d.state !== "RUNNING")
			continue;
		const a = (d.attempts || []).filter((x) => x.state === "RUNNING").pop();
		if (!a || !a.plan || !a.plan.nodes)
			continue;
		for (const n of a.plan.nodes) {
			if (!at.has(n.name))
				at.set(n.name, []);
			at.get(n.name).push({ job: d, ranks: n.ranks || [] });
		}
	}
	return at;
}

function rankText(ranks) {
	if (ranks.length === 0)
		return "";
	const lo = Math.min(...ranks), hi = Math.max(...ranks);
	return lo === hi ? "rank " + lo : "ranks " + lo + "–" + hi;
}

function nodeChip(n, at, blamed) {
	const jobs = at.get(n.name) || [];
	const failed = n.failures > 0 || blamed.has(n.name);
	let cls = "node st-" + n.state;
	if (jobs.length > 0)
		cls += " busy";
	if (failed)
		cls += " failed";
	return h("div", { class: cls, "data-node": n.name, "data-state": n.state,
		"data-jobs": jobs.map((x) => x.job.id).join(",") || null,
		title: n.name + ": " + n.state + ", " + n.free_gpus + "/" + n.gpus + " GPUs free" },
	h("div", { class: "name" }, n.name),
	h("div", { class: "info" }, n.state + " · " + n.free_gpus + "/" + n.gpus + " free" +
		(n.failures > 0 ? " · " + n.failures + " failures" : "")),
	jobs.map((x) => h("div", { class: "jobs" },
		h("a", { href: "#job/" + x.job.id }, "job " + x.job.id + " " + x.job.name),
		" " + rankText(x.ranks))));
}

function clusterSection(nodes, details) {
	const sec = h("section", { id: "cluster" }, h("h2", {}, "Cluster"));
	if (!nodes) {
		sec.append(h("p", { class: "empty" }, "No cluster snapshot yet (is slurmctld up?)."));
		return sec;
	}
	const at = placements(details);
	const blamed = new Set();
	for (const d of details)
		for (const n of d.excluded_nodes || [])
			blamed.add(n);
	const byName = new Map(nodes.nodes.map((n) => [n.name, n]));
	const sw = new Map(nodes.switches.map((x) => [x.name, x]));
	const child = new Set(nodes.switches.flatMap((x) => x.children));
	const drawSwitch = (x) => h("div", { class: "switch", "data-switch": x.name },
		h("div", { class: "label" }, x.name),
		x.children.length > 0
			? h("div", { class: "switch-children" },
				x.children.filter((c) => sw.has(c)).map((c) => drawSwitch(sw.get(c))))
			: h("div", { class: "nodes" },
				x.nodes.filter((n) => byName.has(n)).map((n) => nodeChip(byName.get(n), at, blamed))));
	const tree = h("div", { class: "tree" },
		nodes.switches.filter((x) => !child.has(x.name)).map(drawSwitch));
	const loose = nodes.nodes.filter((n) => n.leaf === null);
	if (loose.length > 0)
		tree.append(h("div", { class: "switch" }, h("div", { class: "label" }, "(no switch)"),
			h("div", { class: "nodes" }, loose.map((n) => nodeChip(n, at, blamed)))));
	sec.append(h("p", { class: "muted" }, "Snapshot of " + when(nodes.loaded_at) +
		". Green: a running job of yours has ranks there; dashed: failed recently."), tree);
	const bad = nodes.nodes.filter((n) => n.failures > 0 || blamed.has(n.name) ||
		n.state === "down" || n.state === "drain");
	sec.append(h("h2", {}, "Recently failed or unavailable nodes"));
	if (bad.length === 0) {
		sec.append(h("p", { class: "empty", id: "failed-nodes" }, "None."));
	} else {
		sec.append(h("table", { id: "failed-nodes" },
			h("thead", {}, h("tr", {}, ["node", "state", "failures", "excluded by"].map((t) => h("th", {}, t)))),
			h("tbody", {}, bad.map((n) => h("tr", { "data-node": n.name },
				h("td", {}, n.name), h("td", {}, n.state), h("td", { class: "num" }, String(n.failures)),
				h("td", {}, details.filter((d) => (d.excluded_nodes || []).includes(n.name))
					.map((d) => "job " + d.id).join(", ") || "—"))))));
	}
	return sec;
}

/*
 * The caller's goodput per UTC day (GET /v1/goodput?by=day, where llmctld
 * has it): one bar a day, split into the buckets, with its ETTR.
 */
function dailyChart(totals) {
	const days = totals.filter((t) => t.wall_s > 0).sort((a, b) => a.key < b.key ? -1 : 1).slice(-30);
	const W = 720, H = 200, L = 40, B = 30, bw = Math.min(40, (W - L - 10) / Math.max(days.length, 1) - 4);
	const svg = s("svg", { width: W, height: H, viewBox: "0 0 " + W + " " + H, id: "goodput-days" });
	const y = (v) => 14 + (H - B - 14) * (1 - v);
	for (const v of [0, 0.5, 1]) {
		svg.append(s("line", { class: "axis", x1: L, x2: W - 10, y1: y(v), y2: y(v) }));
		svg.append(s("text", { x: 4, y: y(v) + 4, class: "muted" }, (v * 100) + "%"));
	}
	days.forEach((d, i) => {
		const x = L + 4 + i * (bw + 4);
		let acc = 0;
		const g = s("g", { class: "day", "data-day": d.key, "data-ettr": d.ettr });
		for (const b of BUCKETS) {
			const f = Math.min((d[b] || 0) / d.wall_s, 1 - acc);
			if (f <= 0)
				continue;
			g.append(s("rect", { class: bucketName(b), x: x, y: y(acc + f), width: bw,
				height: y(acc) - y(acc + f) }, s("title", {}, d.key + " " +
				bucketName(b).replace("_", " ") + ": " + dur(d[b]))));
			acc += f;
		}
		g.append(s("text", { x: x + bw / 2, y: y(Math.min(acc, 1)) - 3, "text-anchor": "middle" },
			(100 * d.ettr).toFixed(0) + "%"));
		g.append(s("text", { x: x + bw / 2, y: H - 16, "text-anchor": "middle", class: "muted" },
			d.key.slice(5)));
		svg.append(g);
	});
	return svg;
}

/*
 * ETTR over time: per day when llmctld totals goodput by day, else each
 * job with goodput at the time it was submitted.
 */
function goodputSection(details, daily) {
	const sec = h("section", { id: "goodput" }, h("h2", {}, "Goodput over time"));
	if (daily && Array.isArray(daily.totals) && daily.totals.some((t) => t.wall_s > 0)) {
		sec.append(h("p", {}, "ETTR per day (UTC) of your jobs, and where the rest of the time went:"),
			dailyChart(daily.totals),
			h("div", { class: "legend" }, BUCKETS.map((b) => h("span", {},
				h("span", { class: "sw " + bucketName(b) }), bucketName(b).replace("_", " ")))));
		return sec;
	}
	const pts = details.filter((d) => d.goodput && typeof d.goodput.ettr === "number")
		.sort((a, b) => a.created_at - b.created_at);
	if (pts.length === 0) {
		sec.append(h("p", { class: "empty" }, "ETTR: — (llmctld reports no goodput for these jobs)."));
		return sec;
	}
	let prod = 0, wall = 0;
	for (const d of pts) {
		prod += d.goodput.productive_s || 0;
		wall += d.goodput.wall_s || 0;
	}
	sec.append(h("p", {}, "Overall ETTR of these jobs: " +
		(wall > 0 ? (100 * prod / wall).toFixed(1) + " %" : "—") +
		" (" + dur(prod) + " productive of " + dur(wall) + ")."));
	const W = 720, H = 180, L = 40, B = 24;
	const t0 = pts[0].created_at, t1 = Math.max(pts[pts.length - 1].created_at, t0 + 1);
	const x = (t) => L + (W - L - 10) * (t - t0) / (t1 - t0);
	const y = (v) => 10 + (H - B - 10) * (1 - v);
	const svg = s("svg", { width: W, height: H, viewBox: "0 0 " + W + " " + H, id: "goodput-chart" });
	for (const v of [0, 0.5, 1]) {
		svg.append(s("line", { class: "axis", x1: L, x2: W - 10, y1: y(v), y2: y(v) }));
		svg.append(s("text", { x: 4, y: y(v) + 4, class: "muted" }, (v * 100) + "%"));
	}
	let path = "";
	pts.forEach((d, i) => {
		const px = pts.length === 1 ? (L + W) / 2 : x(d.created_at), py = y(d.goodput.ettr);
		path += (i === 0 ? "M" : "L") + px.toFixed(1) + "," + py.toFixed(1);
		svg.append(s("circle", { class: "dot", cx: px, cy: py, r: 4 },
			s("title", {}, "job " + d.id + " " + d.name + ": " + ettr(d))));
	});
	svg.append(s("path", { d: path, fill: "none", stroke: "#3b5ba9" }));
	svg.append(s("text", { x: L, y: H - 6, class: "muted" }, when(t0)));
	svg.append(s("text", { x: W - 10, y: H - 6, class: "muted", "text-anchor": "end" }, when(t1)));
	sec.append(svg);
	return sec;
}

async function overview() {
	const list = await api("/v1/jobs?limit=100");
	const jobs = list.jobs || [];
	/* the details carry attempts (plans), excluded nodes and goodput */
	const details = [];
	for (let i = 0; i < Math.min(jobs.length, 50); i += PARALLEL)
		details.push(...await Promise.all(jobs.slice(i, Math.min(i + PARALLEL, 50)).map((j) =>
			api("/v1/jobs/" + j.id).catch(() => j))));
	const byId = new Map(details.map((d) => [d.id, d]));
	let nodes = null;
	try {
		nodes = await api("/v1/nodes");
	} catch (e) {
		nodes = null;
	}
	/* an llmctld without the goodput ledger answers 404: per job then */
	const daily = await api("/v1/goodput?by=day").catch(() => null);
	const view = document.getElementById("view");
	view.replaceChildren(
		jobsSection(jobs.map((j) => Object.assign({}, j, { goodput: (byId.get(j.id) || j).goodput }))),
		clusterSection(nodes, details), goodputSection(details, daily));
	document.body.dataset.loaded = "overview";
}

/* ---- one job --------------------------------------------------------------- */

function timeline(job, checkpoints) {
	const now = Date.now() / 1000;
	const as = job.attempts || [];
	const t0 = job.created_at;
	let t1 = now;
	if (FINAL.includes(job.state))
		t1 = Math.max(job.updated_at, ...as.map((a) => a.ended_at || 0));
	t1 = Math.max(t1, t0 + 1);
	const W = 760, L = 90, R = 16, ROW = 30, top = 20;
	const H = top + ROW * Math.max(as.length, 1) + 40;
	const x = (t) => L + (W - L - R) * (Math.min(Math.max(t, t0), t1) - t0) / (t1 - t0);
	const svg = s("svg", { width: W, height: H, viewBox: "0 0 " + W + " " + H, id: "timeline" });
	svg.append(s("line", { class: "axis", x1: L, x2: W - R, y1: H - 28, y2: H - 28 }));
	svg.append(s("text", { x: L, y: H - 12, class: "muted" }, when(t0)));
	svg.append(s("text", { x: W - R, y: H - 12, class: "muted", "text-anchor": "end" }, when(t1)));
	as.forEach((a, i) => {
		const yy = top + ROW * i;
		const start = a.started_at || null, end = a.ended_at || (FINAL.includes(a.state) ? t1 : now);
		const label = "attempt " + a.attempt + ": " + a.state + (a.cause ? " (" + a.cause + ")" : "");
		const g = s("g", { class: "attempt", "data-attempt": a.attempt, "data-state": a.state,
			"data-cause": a.cause || "" });
		g.append(s("text", { x: 4, y: yy + 15 }, "attempt " + a.attempt));
		const q0 = x(a.submitted_at || t0), q1 = x(start || end);
		if (q1 > q0)
			g.append(s("rect", { class: "bar queued", x: q0, y: yy + 4, width: Math.max(q1 - q0, 1),
				height: 16 }, s("title", {}, "attempt " + a.attempt + " waiting for Slurm")));
		if (start)
			g.append(s("rect", { class: "bar s-" + a.state, x: x(start), y: yy + 4,
				width: Math.max(x(end) - x(start), 2), height: 16 },
			s("title", {}, label + (a.reason ? ": " + a.reason : ""))));
		g.append(s("text", { x: Math.min(x(start || a.submitted_at || t0) + 4, W - 200), y: yy + 28,
			class: "muted" }, a.state + (a.cause ? " · " + a.cause : "")));
		svg.append(g);
	});
	for (const c of checkpoints) {
		if (!c.mtime)
			continue;
		const cx = x(c.mtime), cy = H - 28;
		svg.append(s("path", { class: "ckpt", d: "M" + cx + "," + (cy - 7) + "l5,7l-5,7l-5,-7z",
			"data-step": c.step }, s("title", {}, "checkpoint step " + c.step + " (" + c.state + ")")));
	}
	return svg;
}

/* "ckpt_stall_s" -> "ckpt_stall" (its CSS class) */
function bucketName(b) {
	return b.slice(0, -2);
}

function goodputBuckets(g) {
	const sec = h("section", { id: "job-goodput" }, h("h2", {}, "Goodput"));
	if (!g) {
		sec.append(h("p", {}, "ETTR: —"), h("p", { class: "empty" },
			"llmctld reports no goodput for this job."));
		return sec;
	}
	sec.append(h("p", {}, "ETTR: " + ettr({ goodput: g }) + " of " + dur(g.wall_s) + " wall-clock time."));
	const W = 720, total = Math.max(g.wall_s || 0, 1);
	const svg = s("svg", { width: W, height: 24, viewBox: "0 0 " + W + " 24" });
	let off = 0;
	for (const b of BUCKETS) {
		const v = g[b] || 0, w = W * v / total;
		if (w <= 0)
			continue;
		svg.append(s("rect", { class: bucketName(b), x: off, y: 2, width: w, height: 20 },
			s("title", {}, bucketName(b).replace("_", " ") + ": " + dur(v))));
		off += w;
	}
	sec.append(svg, h("div", { class: "legend" }, BUCKETS.map((b) => h("span", {},
		h("span", { class: "sw " + bucketName(b) }), bucketName(b).replace("_", " ") + " " + dur(g[b])))));
	const inc = g.incidents || [];
	if (inc.length > 0)
		sec.append(h("table", { id: "incidents" },
			h("thead", {}, h("tr", {}, ["attempt", "cause", "nodes", "back to training"].map((t) => h("th", {}, t)))),
			h("tbody", {}, inc.map((i) => h("tr", {},
				h("td", {}, String(i.attempt !== undefined ? i.attempt : "—")),
				h("td", {}, i.cause || "—"),
				h("td", {}, Array.isArray(i.nodes) ? i.nodes.join(", ") : (i.nodes || "—")),
				h("td", {}, dur(i.recovery_s !== undefined ? i.recovery_s : i.seconds)))))));
	return sec;
}

async function jobView(id) {
	const job = await api("/v1/jobs/" + id);
	const [ck, ev] = await Promise.all([
		api("/v1/jobs/" + id + "/checkpoints").catch(() => ({ checkpoints: [] })),
		api("/v1/jobs/" + id + "/events").catch(() => ({ events: [] }))]);
	const checkpoints = ck.checkpoints || [];
	const head = h("section", { id: "job", "data-job-id": job.id },
		h("h2", {}, "Job " + job.id + " " + job.name),
		h("table", {}, h("tbody", {},
			h("tr", {}, h("th", {}, "state"), stateCell(job.state)),
			h("tr", {}, h("th", {}, "user"), h("td", {}, job.user)),
			h("tr", {}, h("th", {}, "reason"), h("td", {}, job.reason || "—")),
			h("tr", {}, h("th", {}, "submitted"), h("td", {}, when(job.created_at))),
			h("tr", {}, h("th", {}, "size"), h("td", {}, job.nodes + " nodes × " + job.gpus_per_node +
				" GPUs, world size " + job.world_size)),
			h("tr", {}, h("th", {}, "heartbeat"), h("td", {}, job.heartbeat
				? "step " + job.heartbeat.step + ", " + dur(job.heartbeat.age_s) + " ago" : "—")),
			h("tr", {}, h("th", {}, "newest checkpoint"), h("td", {}, job.checkpoint
				? "step " + job.checkpoint.step + (job.checkpoint.verified ? " (verified)" : "") : "—")),
			h("tr", {}, h("th", {}, "excluded nodes"), h("td", { id: "excluded" },
				(job.excluded_nodes || []).join(", ") || "none")),
			h("tr", {}, h("th", {}, "ETTR"), h("td", { class: "ettr" }, ettr(job))))));
	const attempts = h("section", { id: "attempts" }, h("h2", {}, "Attempts"),
		timeline(job, checkpoints),
		h("div", { class: "legend" }, h("span", {}, h("span", { class: "sw queue" }), "waiting for Slurm"),
			h("span", {}, h("span", { class: "sw productive" }), "running"),
			h("span", {}, h("span", { class: "sw lost" }), "failed"),
			h("span", {}, "◆ checkpoint")),
		h("table", {},
			h("thead", {}, h("tr", {}, ["attempt", "state", "cause", "reason", "nodes", "slurm id",
				"started", "ended", "exit"].map((t) => h("th", {}, t)))),
			h("tbody", {}, (job.attempts || []).map((a) => h("tr", { "data-attempt": a.attempt },
				h("td", { class: "num" }, String(a.attempt)), stateCell(a.state),
				h("td", { class: "cause" }, a.cause || "—"), h("td", { class: "wrap" }, a.reason || ""),
				h("td", {}, a.nodes || "—"), h("td", {}, a.slurm_job_id ? String(a.slurm_job_id) : "—"),
				h("td", {}, when(a.started_at)), h("td", {}, when(a.ended_at)),
				h("td", {}, a.exit_code === null ? "—" : String(a.exit_code)))))));
	const cks = h("section", { id: "checkpoints" }, h("h2", {}, "Checkpoints"),
		checkpoints.length === 0 ? h("p", { class: "empty" }, "None on record.")
			: h("table", {}, h("thead", {}, h("tr", {}, ["step", "state", "layout", "written", "path"]
				.map((t) => h("th", {}, t)))),
			h("tbody", {}, checkpoints.map((c) => h("tr", {}, h("td", { class: "num" }, String(c.step)),
				h("td", {}, c.state), h("td", {}, c.layout || ""), h("td", {}, when(c.mtime)),
				h("td", { class: "muted" }, c.path))))));
	const events = h("section", { id: "events" }, h("h2", {}, "Events"),
		h("ul", { class: "events" }, (ev.events || []).map((e) =>
			h("li", {}, h("span", { class: "muted" }, when(e.at) + " "), e.kind + ": " + e.message))));
	document.getElementById("view").replaceChildren(head, goodputBuckets(job.goodput), attempts, cks, events);
	document.body.dataset.loaded = "job";
}

/* ---- drawing and refreshing ---------------------------------------------- */

async function draw() {
	if (drawing)
		return;
	drawing = true;
	const m = location.hash.match(/^#job\/(\d+)$/);
	try {
		if (m)
			await jobView(m[1]);
		else
			await overview();
		setStatus("updated " + new Date().toLocaleTimeString(undefined, { hour12: false }));
	} catch (e) {
		setStatus(e.message, true);
		document.body.dataset.loaded = "error";
	} finally {
		drawing = false;
	}
}

function soon() {
	clearTimeout(refreshTimer);
	refreshTimer = setTimeout(draw, 500);
}

/* Redraw on every event of the user's jobs (llmctld's stream, one JSON a line). */
async function follow() {
	for (;;) {
		streamAbort = new AbortController();
		try {
			if (!bearer)
				return;
			const r = await fetch("/v1/events?follow=1", { signal: streamAbort.signal,
				headers: { Authorization: "Bearer " + bearer } });
			if (!r.ok || !r.body)
				throw new Error("no stream");
			const reader = r.body.getReader();
			let first = true;
			for (;;) {
				const { value, done } = await reader.read();
				if (done)
					break;
				/* the first chunk is the history: already drawn */
				if (!first && value && value.length > 1) {
					/* counted, so a test can tell a redraw on an event */
					document.body.dataset.streamed =
						Number(document.body.dataset.streamed || 0) + 1;
					soon();
				}
				first = false;
			}
		} catch (e) {
			/* fall back to the timer below; try again later */
		}
		await new Promise((res) => setTimeout(res, 5000));
	}
}

window.addEventListener("hashchange", draw);
draw();
follow();
setInterval(draw, 15000);

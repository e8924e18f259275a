"""The report page's style sheet and its one small script, inline in every page."""

CSS = """
:root { color-scheme: light; --fg: #1d1d1f; --muted: #5f6368; --line: #e0e0e0;
  --warn: #b3261e; --good: #1e7d32; --bg-soft: #f6f7f9; }
* { box-sizing: border-box; }
body { margin: 0; color: var(--fg); background: #fff; line-height: 1.45;
  font: 15px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, Helvetica, Arial, sans-serif; }
header, main, footer { max-width: 1000px; margin: 0 auto; padding: 0 20px; }
header { padding-top: 18px; border-bottom: 1px solid var(--line); }
h1 { margin: 0 0 4px; font-size: 24px; word-break: break-all; }
h2 { font-size: 19px; margin: 28px 0 8px; }
h3 { font-size: 15px; margin: 18px 0 6px; }
nav { margin: 8px 0 12px; font-size: 14px; }
a { color: #1a5fb4; text-decoration: none; } a:hover { text-decoration: underline; }
.status { margin: 0; color: var(--muted); }
.badge { display: inline-block; padding: 1px 8px; border-radius: 10px; font-size: 13px;
  font-weight: 600; background: var(--bg-soft); }
.badge.done { color: var(--good); } .badge.open { color: #8a5a00; }
.caption, .muted { color: var(--muted); font-size: 13.5px; }
.notice { border-left: 4px solid #e8a317; background: #fff8e6; padding: 6px 12px;
  margin: 4px 0; font-size: 14px; }
table { border-collapse: collapse; font-size: 14px; margin: 4px 0 10px; }
th, td { text-align: left; padding: 3px 14px 3px 0; border-bottom: 1px solid var(--line);
  vertical-align: top; }
th { font-weight: 600; white-space: nowrap; }
td.num { font-variant-numeric: tabular-nums; text-align: right; }
tr.best td { background: #eaf6ec; font-weight: 600; }
code, td.value { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace;
  font-size: 13px; word-break: break-word; }
.plot svg { max-width: 100%; height: auto; display: block; }
.config-groups { display: grid; grid-template-columns: repeat(auto-fill, minmax(300px, 1fr));
  gap: 0 28px; }
.frames { display: flex; gap: 14px; overflow-x: auto; padding-bottom: 6px; }
.frame { margin: 0; flex: none; }
.frame img, .final img { max-width: 100%; height: auto; image-rendering: pixelated;
  border: 1px solid var(--line); display: block; }
figcaption { font-size: 13px; color: var(--muted); margin-top: 3px; }
.js .frames { display: block; overflow: visible; }
.controls { display: flex; align-items: center; gap: 12px; margin: 6px 0 10px; }
.controls input[type=range] { flex: 1; }
.controls button { font-size: 14px; padding: 2px 12px; }
details > summary { cursor: pointer; color: #1a5fb4; font-size: 14px; }
footer { margin-top: 36px; padding: 12px 20px 30px; color: var(--muted); font-size: 12.5px;
  border-top: 1px solid var(--line); }
"""

# the timeline: without script every grid shows in a scrolling strip; with it, one grid
# at a time under a slider (arrow keys work on the slider), and a play button
SCRIPT = """<script>
(function () {
  var box = document.getElementById("timeline");
  if (!box) return;
  var frames = box.querySelectorAll(".frame"), range = box.querySelector("input"),
      label = box.querySelector(".frame-label"), play = box.querySelector("button"), timer;
  function show(i) {
    for (var j = 0; j < frames.length; j++) frames[j].hidden = j !== i;
    label.textContent = (i + 1) + " / " + frames.length;
    range.value = i;
  }
  box.classList.add("js");
  box.querySelector(".controls").hidden = false;
  range.addEventListener("input", function () { show(+range.value); });
  function stop() { clearInterval(timer); timer = null; play.textContent = "Play"; }
  play.addEventListener("click", function () {
    if (timer) return stop();
    play.textContent = "Pause";
    if (+range.value === frames.length - 1) show(0);
    timer = setInterval(function () {
      if (+range.value + 1 >= frames.length) return stop();
      show(+range.value + 1);
    }, 600);
  });
  show(frames.length - 1);
})();
</script>"""

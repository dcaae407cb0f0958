// l2hub report: draws the ladder diagram from the JSON this page carries.
// Every text that came from a capture or a log is set with textContent or
// createTextNode, never parsed as markup.
(function () {
  'use strict';
  var D = JSON.parse(document.getElementById('l2hub-data').textContent);
  var SVGNS = 'http://www.w3.org/2000/svg';
  var F = D.frames, G = D.groups, M = D.markers, B = D.bands, K = D.findings;
  var KIND = { delayed: 1, duplicate: 2, reordered: 4, corrupted: 8, inferred: 16, injected: 32 };
  var $ = function (id) { return document.getElementById(id); };
  var scrollEl = $('scroll'), svg = $('svg'), spacer = $('spacer'), heads = $('heads');

  // Row accessors: trailing zeros are left out of the JSON.
  function fNum(r) { return r[0] || 0; }
  function fT(r) { return r[1] || 0; }
  function fFrom(r) { return r[2] || 0; }
  function fLabel(r) { return r[3] || 0; }
  function fLen(r) { return r[4] || 0; }
  function fBytes(r) { return r[5] || ''; }
  function fComment(r) { return D.strs[r[6] || 0]; }
  function fDl(r) { return r[7] || []; }
  function fDr(r) { return r[8] || []; }
  function fGroup(r) { return (r[9] || 0) - 1; }
  function fFind(r) { return r[10] || []; }
  function fCopies(r) { return r[11] || []; }
  function fMore(r) { return r[12] || 0; }
  function fInjected(r) { return !!r[13]; }
  function dNum(d) { return d[0] || 0; }
  function dTo(d) { return d[1] || 0; }
  function dDt(d) { return d[2] || 0; }
  function dKind(d) { return d[3] || 0; }
  function dComment(d) { return D.strs[d[4] || 0]; }
  function dOvertook(d) { return d[5] || 0; }
  function dBytes(d) { return d[6] || ''; }
  function proto(r) { return D.lproto[fLabel(r)] || 0; }

  var S = {
    ports: D.ports.map(function () { return true; }),
    protos: D.protos.map(function () { return true; }),
    mode: 'seq', zoom: { seq: 1, time: 1 }, expanded: {}, expandAll: false,
    sel: null, finding: -1
  };
  var L = null;

  // ---- helpers
  function el(tag, attrs, text) {
    var e = document.createElement(tag);
    for (var k in attrs) { if (Object.prototype.hasOwnProperty.call(attrs, k)) e.setAttribute(k, attrs[k]); }
    if (text !== undefined) e.textContent = text;
    return e;
  }
  function sv(tag, attrs, text) {
    var e = document.createElementNS(SVGNS, tag);
    for (var k in attrs) { if (Object.prototype.hasOwnProperty.call(attrs, k)) e.setAttribute(k, attrs[k]); }
    if (text !== undefined) e.textContent = text;
    return e;
  }
  function secs(ns) { return (ns / 1e9).toFixed(3) + ' s'; }
  function secs6(ns) { return (ns / 1e9).toFixed(6) + ' s'; }
  function dur(ns) {
    var a = Math.abs(ns);
    if (a >= 1e9) return (ns / 1e9).toFixed(3) + ' s';
    if (a >= 1e6) return (ns / 1e6).toFixed(a >= 1e8 ? 0 : 2) + ' ms';
    if (a >= 1e3) return (ns / 1e3).toFixed(1) + ' µs';
    return ns + ' ns';
  }
  function portName(i) { return i < 0 ? 'hub' : D.ports[i].name; }
  function cut(s, n) { return s.length > n ? s.slice(0, Math.max(1, n - 1)) + '…' : s; }
  // cutPx cuts s to px pixels in the given CSS font ('600 11px'), measured
  // in the page's own font: a guess per character clips wide text.
  var measurer = null, family = null;
  function textWidth(s, font) {
    if (!measurer) {
      measurer = document.createElement('canvas').getContext('2d');
      family = window.getComputedStyle(document.body).fontFamily;
    }
    if (!measurer) return s.length * 7;
    measurer.font = font + ' ' + family;
    return measurer.measureText(s).width;
  }
  function cutPx(s, px, font) {
    if (s.length * 14 <= px || textWidth(s, font) <= px) return s; // no character is wider than 14 px here
    var lo = 0, hi = s.length - 1; // the longest prefix that fits with its ellipsis
    while (lo < hi) { var m = (lo + hi + 1) >> 1; if (textWidth(s.slice(0, m) + '…', font) <= px) lo = m; else hi = m - 1; }
    return s.slice(0, Math.max(1, lo)) + '…';
  }
  function groupOpen(g) { return S.expandAll || S.expanded[g] === true; }
  function lowerBound(arr, v, n) { var lo = 0, hi = n; while (lo < hi) { var m = (lo + hi) >> 1; if (arr[m] < v) lo = m + 1; else hi = m; } return lo; }

  // ---- header: title, summary, notes, findings
  function header() {
    $('title').textContent = D.title;
    var drops = 0, dl = 0, more = 0;
    for (var i = 0; i < F.length; i++) { drops += fDr(F[i]).length; dl += fDl(F[i]).length; more += fMore(F[i]); }
    var names = D.ports.map(function (p) { return p.name; }).join(', ') || 'none';
    $('summary').textContent = D.capture + ' · started ' + D.start + ' · ' + secs(D.dur) + ' · ' +
      D.records + ' records: ' + F.length + ' frames sent, ' + dl + ' deliveries, ' + drops + ' drops' +
      (more ? ' (and ' + more + ' more records of frames with too many to draw)' : '') + ' · ports ' + names +
      ' · ' + M.filter(function (m) { return m[0] >= 0; }).length + ' console markers';
    var notes = $('notes');
    if (F.length === 0) {
      notes.appendChild(el('li', { 'class': 'empty' }, 'No frames: the capture holds no Ethernet frame to draw' +
        (D.ports.length ? ' (the lifelines are the ports it describes).' : '.')));
    }
    B.forEach(function (b, i) {
      var li = el('li', { 'class': 'band' });
      li.appendChild(document.createTextNode(bandText(b) + ' '));
      var a = el('a', { 'class': 'fn' }, 'show');
      a.addEventListener('click', function () { selectBand(i, true); });
      li.appendChild(a);
      notes.appendChild(li);
    });
    if (D.inferred) notes.appendChild(el('li', { 'class': 'warn' }, 'The capture has no egress records: deliveries are inferred from MAC addresses (dotted arrows).'));
    D.warnings.forEach(function (w) { notes.appendChild(el('li', { 'class': 'warn' }, w)); });
    var v = $('verdict'), tb = document.querySelector('#findings tbody');
    if (!D.check) {
      v.textContent = '(no conformance check: run l2hub report with --check nexus-v1)';
      $('findings').hidden = true;
      $('top').appendChild($('check')); // nothing to head the page: after the notes
      return;
    }
    var c = D.check;
    v.textContent = c.Profile + ': ' + (c.OK ? 'PASS' : 'FAIL') + ' — ' + c.Fail + ' fail, ' + c.Warn + ' warn, ' + c.Pass + ' pass, ' + c.Info + ' info' + (c.Error ? ' — ' + c.Error : '');
    v.className = c.OK ? 'ok' : 'fail';
    if (c.Fail + c.Warn > 0) $('top').classList.add('alert');
    K.forEach(function (f, i) {
      var tr = el('tr', { 'class': 'v-' + f.verdict, 'data-finding': String(i) });
      tr.title = f.title;
      tr.appendChild(el('td', { 'class': 'v' }, f.verdict.toUpperCase()));
      tr.appendChild(el('td', {}, f.id));
      var td = el('td', {});
      if (f.frames.length === 0) td.textContent = 'end of run';
      f.frames.slice(0, 6).forEach(function (n) {
        var a = el('a', { 'class': 'fn' }, String(n));
        a.addEventListener('click', function (ev) { ev.stopPropagation(); gotoFrame(n); });
        td.appendChild(a);
        td.appendChild(document.createTextNode(' '));
      });
      if (f.frames.length > 6) td.appendChild(document.createTextNode('… (' + f.frames.length + (f.count > f.frames.length ? ' of ' + f.count : '') + ')'));
      tr.appendChild(td);
      tr.appendChild(el('td', {}, f.msg + (f.count > 1 ? ' (×' + f.count + ')' : '')));
      tr.addEventListener('click', function () { selectFinding(i, true); });
      tb.appendChild(tr);
    });
  }
  function bandText(b) {
    var what = (b.kind === 'down' ? 'link down' : 'partition') + (b.name ? ' ' + b.name : '') + (b.spec ? ' ' + b.spec : '');
    var drops = b.drops + ' drop' + (b.drops === 1 ? '' : 's') + (b.drops ? ' (frames ' + b.first + '–' + b.last + ')' : '');
    if (b.control) {
      // The capture records when the control API set it and ended it.
      return what + ' set through the control API at ' + secs(b.began) +
        (b.ended ? ', ended at ' + secs(b.ended) : ', not ended before the capture ends') + ': ' + drops;
    }
    var s = what + ' from ' + secs(b.start) + ' to ' + secs(b.end) + ': ' + drops;
    return s + (b.healed ? ', healed by frame ' + b.healed + ' at ' + secs(b.healedAt) : ', not healed before the capture ends');
  }

  // ---- controls
  function controls() {
    var present = {};
    F.forEach(function (r) { present[proto(r)] = true; });
    D.ports.forEach(function (p, i) {
      var lab = el('label', { title: p.desc });
      var cb = el('input', { type: 'checkbox', 'data-port': String(i) });
      cb.checked = true;
      cb.addEventListener('change', function () { S.ports[i] = cb.checked; relayout(); });
      lab.appendChild(cb);
      lab.appendChild(document.createTextNode(p.name));
      $('port-filter').appendChild(lab);
    });
    D.protos.forEach(function (name, i) {
      if (!present[i]) return;
      var lab = el('label', {});
      var cb = el('input', { type: 'checkbox', 'data-proto': name });
      cb.checked = true;
      cb.addEventListener('change', function () { S.protos[i] = cb.checked; relayout(); });
      lab.appendChild(cb);
      lab.appendChild(document.createTextNode(name));
      $('proto-filter').appendChild(lab);
    });
    $('mode').addEventListener('change', function () {
      var keep = yToT(scrollEl.scrollTop + scrollEl.clientHeight / 3); // in the old mode's terms
      S.mode = $('mode').value;
      relayout(keep);
    });
    $('zoom-in').addEventListener('click', function () { zoomBy(1.6); });
    $('zoom-out').addEventListener('click', function () { zoomBy(1 / 1.6); });
    $('zoom-fit').addEventListener('click', fit);
    $('expand').addEventListener('click', function () {
      S.expandAll = !S.expandAll;
      $('expand').textContent = S.expandAll ? 'collapse groups' : 'expand groups';
      relayout();
    });
    function go() { var n = parseInt($('goto').value, 10); if (n > 0) gotoFrame(n); }
    $('goto-btn').addEventListener('click', go);
    $('goto').addEventListener('keydown', function (e) { if (e.key === 'Enter') go(); });
    scrollEl.addEventListener('scroll', function () { schedule(); heads.scrollLeft = scrollEl.scrollLeft; });
    scrollEl.addEventListener('wheel', function (e) {
      if (!e.ctrlKey && !e.metaKey) return;
      e.preventDefault();
      var r = scrollEl.getBoundingClientRect();
      zoomBy(e.deltaY < 0 ? 1.25 : 0.8, e.clientY - r.top);
    }, { passive: false });
    var drag = null;
    scrollEl.addEventListener('mousedown', function (e) { if (e.button === 0) drag = { y: e.clientY, top: scrollEl.scrollTop, moved: false }; });
    window.addEventListener('mousemove', function (e) {
      if (!drag) return;
      if (Math.abs(e.clientY - drag.y) > 3) drag.moved = true;
      if (drag.moved) scrollEl.scrollTop = drag.top - (e.clientY - drag.y);
    });
    window.addEventListener('mouseup', function () { setTimeout(function () { drag = null; }, 0); });
    document.addEventListener('keydown', function (e) {
      if (e.target && e.target.tagName === 'INPUT') return;
      if (e.key === '+' || e.key === '=') zoomBy(1.6);
      else if (e.key === '-') zoomBy(1 / 1.6);
      else if (e.key === '0') fit();
    });
    window.addEventListener('resize', function () { relayout(); });
    svg.addEventListener('click', function (e) {
      if (drag && drag.moved) return;
      var g = e.target.closest ? e.target.closest('g[data-k]') : null;
      if (!g) return;
      var k = g.getAttribute('data-k'), i = parseInt(g.getAttribute('data-i'), 10);
      if (k === 'f') selectFrame(i);
      else if (k === 'g') { S.expanded[i] = !groupOpen(i); selectGroup(i); relayout(); }
      else if (k === 'm') selectMarker(i);
      else if (k === 'b') selectBand(i, false);
      else if (k === 'p') selectFinding(i, false);
    });
  }

  // ---- layout: columns, rows and their y
  function frameVisible(r) {
    var from = fFrom(r);
    if (from >= 0 && !S.ports[from]) return false;
    if (!S.protos[proto(r)]) return false;
    var dl = fDl(r), dr = fDr(r);
    if (dr.length > 0) return true;
    for (var j = 0; j < dl.length; j++) if (S.ports[dTo(dl[j])]) return true;
    return dl.length === 0;
  }
  function relayout(keepT) {
    var h = scrollEl.clientHeight || 600;
    var center = keepT !== undefined ? keepT : (L ? yToT(scrollEl.scrollTop + h / 3) : null);
    layout();
    if (center !== null) scrollEl.scrollTop = Math.max(0, tToY(center) - h / 3);
    render();
  }
  function layout() {
    var W = Math.max(scrollEl.clientWidth, 320);
    var vis = [];
    D.ports.forEach(function (p, i) { if (S.ports[i]) vis.push(i); });
    var half = Math.ceil(vis.length / 2);
    var order = vis.slice(0, half).concat([-1], vis.slice(half));
    var margin = Math.max(150, Math.min(260, W * 0.2));
    var colW = Math.max(140, (W - 2 * margin) / order.length);
    var width = Math.max(W, 2 * margin + colW * order.length);
    var xOf = new Float64Array(D.ports.length).fill(-1), hubX = 0;
    order.forEach(function (p, k) {
      var x = margin + colW * (k + 0.5);
      if (p < 0) hubX = x; else xOf[p] = x;
    });
    var kind = [], idx = [], ts = [];
    var mi = 0;
    function pushMarkersUntil(t) {
      for (; mi < M.length && M[mi][1] <= t; mi++) {
        if (M[mi][0] < 0 || S.ports[M[mi][0]]) { kind.push(2); idx.push(mi); ts.push(M[mi][1]); }
      }
    }
    for (var i = 0; i < F.length; i++) {
      var r = F[i];
      if (!frameVisible(r)) continue;
      var g = fGroup(r), t = fT(r);
      if (g >= 0 && !groupOpen(g)) {
        if (G[g].first !== i) continue;
        pushMarkersUntil(t - 1);
        kind.push(1); idx.push(g); ts.push(t);
      } else {
        pushMarkersUntil(t - 1);
        kind.push(0); idx.push(i); ts.push(t);
      }
    }
    pushMarkersUntil(Infinity);
    var n = kind.length, T = new Float64Array(n), Y = new Float64Array(n);
    for (var j = 0; j < n; j++) T[j] = ts[j];
    var h = scrollEl.clientHeight || 600, top = 60;
    var tMin = Math.min(0, n ? T[0] : 0), span = Math.max(D.dur - tMin, 1e6);
    L = { W: width, margin: margin, colW: colW, order: order, xOf: xOf, hubX: hubX, kind: kind, idx: idx, T: T, Y: Y, n: n, tMin: tMin, top: top };
    if (S.mode === 'time') {
      L.pxPerNs = S.zoom.time * Math.max(h - top - 60, 100) / span;
      for (j = 0; j < n; j++) Y[j] = top + (T[j] - tMin) * L.pxPerNs;
      L.height = top + span * L.pxPerNs + 80;
    } else {
      var z = S.zoom.seq, y = top;
      for (j = 0; j < n; j++) {
        if (j > 0) y += z * (18 + gap(T[j] - T[j - 1]));
        Y[j] = y;
      }
      L.height = y + 120;
    }
    // A row's arrows may end far below it (a delayed delivery, a group's
    // bracket): E is how far down each row draws, RM its running maximum,
    // so that render starts at the first row that reaches the window.
    var E = new Float64Array(n), RM = new Float64Array(n), reach = -Infinity;
    for (j = 0; j < n; j++) {
      var e = Y[j];
      if (kind[j] === 1) e = Math.max(e, tToY(G[idx[j]].end));
      else if (kind[j] === 0) {
        var fr = F[idx[j]], fd = fDl(fr);
        for (var q = 0; q < fd.length; q++) if (dDt(fd[q]) > 0) e = Math.max(e, tToY(fT(fr) + dDt(fd[q])));
      }
      E[j] = e;
      reach = Math.max(reach, e);
      RM[j] = reach;
    }
    L.E = E; L.RM = RM;
    spacer.style.height = Math.ceil(L.height) + 'px';
    spacer.style.width = Math.ceil(width) + 'px';
    heads.textContent = '';
    var inner = el('div', {});
    inner.style.position = 'relative';
    inner.style.width = Math.ceil(width) + 'px';
    inner.style.height = '100%';
    order.forEach(function (p) {
      var d = el('div', { 'class': 'head' + (p < 0 ? ' hub' : ''), 'data-port': p < 0 ? 'hub' : D.ports[p].name });
      d.style.left = (p < 0 ? hubX : xOf[p]) + 'px';
      // A long name is cut to its column; the whole is in the title.
      d.appendChild(el('b', {}, p < 0 ? 'hub' : cutPx(D.ports[p].name, colW - 10, '600 13px')));
      var sub = p < 0 ? 'l2hub' : (D.ports[p].desc + (D.ports[p].logs.length ? ' · ' + D.ports[p].logs.join(', ') : ''));
      d.appendChild(el('small', {}, cutPx(sub, colW - 10, '10.8px')));
      if (p >= 0) d.title = D.ports[p].name + '\n' + sub;
      inner.appendChild(d);
    });
    heads.appendChild(inner);
  }
  // In sequence mode a row is 18 px and the time since the row before adds
  // a gap that grows with its logarithm: 1 ms 2 px, 64 ms 11 px, 1 s 18 px.
  function gap(dt) { return Math.min(30, 6 * Math.log10(1 + Math.max(dt, 0) / 1e6)); }
  function tToY(t) {
    if (S.mode === 'time') return L.top + (t - L.tMin) * L.pxPerNs;
    var n = L.n, T = L.T, Y = L.Y, z = S.zoom.seq;
    if (n === 0) return L.top;
    var i = lowerBound(T, t, n);
    if (i === 0) return Y[0] - z * gap(T[0] - t);
    if (i === n) return Y[n - 1] + z * (10 + gap(t - T[n - 1]));
    if (T[i] === t) return Y[i];
    var a = T[i - 1], b = T[i];
    return Y[i - 1] + (Y[i] - Y[i - 1]) * (t - a) / (b - a);
  }
  function yToT(y) {
    if (S.mode === 'time') return L.tMin + (y - L.top) / L.pxPerNs;
    var n = L.n, Y = L.Y, T = L.T;
    if (n === 0) return 0;
    var i = lowerBound(Y, y, n);
    if (i === 0) return T[0];
    if (i === n) return T[n - 1];
    return T[i - 1] + (T[i] - T[i - 1]) * (y - Y[i - 1]) / Math.max(Y[i] - Y[i - 1], 1e-9);
  }
  // mostZoom is the zoom beyond which the diagram would be taller than a
  // browser lays out (about 2^25 px in Chromium): past it, scrolling
  // could no longer reach the end of the run.
  var MAX_HEIGHT = 2.5e7;
  function mostZoom() {
    var z = S.zoom[S.mode], cap = S.mode === 'time' ? 1e7 : 20;
    return Math.max(z > 1 ? 1 : z, Math.min(cap, z * MAX_HEIGHT / Math.max(L.height, 1)));
  }
  function zoomBy(f, atY) {
    var h = scrollEl.clientHeight, off = atY === undefined ? h / 2 : atY;
    var t = yToT(scrollEl.scrollTop + off);
    S.zoom[S.mode] = Math.min(mostZoom(), Math.max(S.mode === 'time' ? 0.5 : 0.02, S.zoom[S.mode] * f));
    layout();
    scrollEl.scrollTop = Math.max(0, tToY(t) - off);
    render();
  }
  function fit() {
    if (S.mode === 'time') S.zoom.time = 1;
    else {
      S.zoom.seq = 1;
      layout();
      var h = scrollEl.clientHeight;
      if (L.height > h) S.zoom.seq = Math.max(0.02, (h - 120) / (L.height - 120));
    }
    layout();
    scrollEl.scrollTop = 0;
    render();
  }

  // ---- rendering: only what the window shows
  var pending = false;
  function schedule() { if (!pending) { pending = true; window.requestAnimationFrame(function () { pending = false; render(); }); } }
  var MAX_ITEMS = 1500;
  // A row draws at most this many arrows, and as many drops: a frame
  // copied thousands of times would cost a redraw per scroll of them all.
  var MAX_ARROWS = 64;
  function render() {
    var top = scrollEl.scrollTop, h = scrollEl.clientHeight || 600;
    svg.setAttribute('width', String(Math.ceil(L.W)));
    svg.setAttribute('height', String(h));
    svg.style.top = top + 'px';
    svg.textContent = '';
    var root = sv('g', { transform: 'translate(0,' + (-top) + ')' });
    svg.appendChild(root);
    var y0 = top - 40, y1 = top + h + 40;
    var bands = sv('g', {}), lines = sv('g', {}), axis = sv('g', {}), items = sv('g', {});
    root.appendChild(bands); root.appendChild(lines); root.appendChild(axis); root.appendChild(items);
    L.order.forEach(function (p) {
      var x = p < 0 ? L.hubX : L.xOf[p];
      lines.appendChild(sv('line', { 'class': p < 0 ? 'hubline' : 'lifeline', x1: x, x2: x, y1: Math.max(y0, 20), y2: Math.min(y1, L.height - 60), 'data-port': p < 0 ? 'hub' : D.ports[p].name }));
    });
    drawBands(bands, y0, y1);
    // Rows whose arrows reach into the window: from the first whose
    // arrows (a delay, a bracket) end below its top, however far above it
    // it starts; a row above the window that ends above it draws nothing.
    var i0 = lowerBound(L.RM, y0 - 20, L.n), drawn = 0, skipped = 0;
    var lastY = {}, lastLabel = {}, lastAxis = -1e9;
    for (var i = i0; i < L.n && L.Y[i] <= y1; i++) {
      var y = L.Y[i], k = L.kind[i], id = L.idx[i];
      if (L.E[i] < y0 - 20) continue;
      var bucket = k === 2 ? 'm' + M[id][0] : (k === 1 ? 'g' : 'f') + (k === 1 ? G[id].from : fFrom(F[id])) + (special(k, id) ? 's' : '');
      // The selected row is always drawn, with its label: a jump to a
      // frame shows it, however dense the rows around it.
      var chosen = isSel(k === 2 ? 'm' : k === 1 ? 'g' : 'f', id);
      if (!chosen && lastY[bucket] !== undefined && y - lastY[bucket] < 1.5) { skipped++; continue; }
      if (!chosen && drawn >= MAX_ITEMS) { skipped += 1; continue; }
      lastY[bucket] = y;
      // Arrow labels share the middle of the diagram, whoever sent them;
      // a marker's text stands beside its own lifeline.
      var col = k === 2 ? 'm' + M[id][0] : 'f';
      var withText = chosen || lastLabel[col] === undefined || y - lastLabel[col] >= 11;
      if (withText) lastLabel[col] = y;
      if (k === 2) drawMarker(items, id, y, withText);
      else drawFrame(items, k === 1 ? G[id].first : id, y, k === 1 ? id : -1, withText);
      drawn++;
      if (y - lastAxis >= 14 && y >= y0) {
        axis.appendChild(sv('text', { 'class': 'axis', x: 4, y: y + 3 }, secs(L.T[i])));
        lastAxis = y;
      }
    }
    if (skipped > 0) items.appendChild(sv('text', { 'class': 'more', x: 4, y: top + h - 6 }, skipped + ' rows here not drawn: zoom in'));
    if (S.mode === 'time') drawTicks(axis, y0, y1);
    document.body.setAttribute('data-drawn', String(drawn));
    $('status').textContent = L.n + ' rows (' + F.length + ' frames, ' + G.length + ' groups, ' + M.length + ' markers) · ' +
      (S.mode === 'time' ? 'time ×' + S.zoom.time.toFixed(2) : 'sequence ×' + S.zoom.seq.toFixed(2));
  }
  function special(k, id) {
    if (k !== 0) return false;
    var r = F[id];
    return fDr(r).length > 0 || fFind(r).length > 0;
  }
  function drawTicks(g, y0, y1) {
    var t0 = yToT(Math.max(y0, L.top)), t1 = yToT(y1), span = t1 - t0;
    if (!(span > 0)) return;
    var step = Math.pow(10, Math.floor(Math.log10(span / 5)));
    if (span / step > 10) step *= 2;
    if (span / step > 10) step *= 2.5;
    for (var t = Math.ceil(t0 / step) * step; t <= t1; t += step) {
      var y = tToY(t);
      g.appendChild(sv('line', { 'class': 'tick', x1: 60, x2: L.W, y1: y, y2: y }));
    }
  }
  function drawBands(g, y0, y1) {
    B.forEach(function (b, i) {
      var xs = b.ports.filter(function (p) { return S.ports[p]; }).map(function (p) { return L.xOf[p]; });
      xs.push(L.hubX);
      var xa = Math.min.apply(null, xs) - 24, xb = Math.max.apply(null, xs) + 24;
      var ya = tToY(b.start) - 4, yb = tToY(b.end) + 4;
      var yc = b.healed ? tToY(b.healedAt) : L.height - 60;
      if (b.control) { // exact edges: on from began to ended, no healing guess
        ya = tToY(b.began);
        yb = yc = b.ended ? tToY(b.ended) : L.height - 60;
      }
      if (yc < y0 || ya > y1) return;
      var bg = sv('g', { 'data-k': 'b', 'data-i': String(i) });
      var cls = 'band' + (b.kind === 'down' ? ' down' : '');
      bg.appendChild(sv('rect', { 'class': cls, x: xa, y: ya, width: xb - xa, height: Math.max(yb - ya, 2) }));
      if (yc > yb) bg.appendChild(sv('rect', { 'class': cls + ' healing', x: xa, y: yb, width: xb - xa, height: yc - yb }));
      // The label stands outside the band, left of it, where it hides no arrow.
      var ty = Math.max(ya + 12, Math.min(y0 + 60, yc - 20));
      // cut to the room left of it, past the time axis
      var room = Math.max(40, xa - 6 - 52);
      bg.appendChild(sv('text', { 'class': 'bandlbl', x: xa - 6, y: ty, 'text-anchor': 'end' }, cutPx((b.kind === 'down' ? 'link down ' : 'partition ') + (b.name || '') + ' ' + (b.spec || ''), room, '600 11px')));
      bg.appendChild(sv('text', { 'class': 'bandlbl sub', x: xa - 6, y: ty + 13, 'text-anchor': 'end' }, cutPx(b.drops + ' drops' + (b.healed || b.ended ? ', healed' : ', not healed'), room, '11px')));
      bg.appendChild(sv('title', {}, bandText(b)));
      g.appendChild(bg);
    });
  }
  function head(g, x, y, dir, cls) {
    g.appendChild(sv('path', { 'class': 'arrow ' + cls, d: 'M' + (x - 7 * dir) + ',' + (y - 4) + 'L' + x + ',' + y + 'L' + (x - 7 * dir) + ',' + (y + 4) }));
  }
  function kindClass(k) {
    if (k & KIND.corrupted) return 'corrupted';
    if (k & KIND.reordered) return 'reordered';
    if (k & KIND.duplicate) return 'duplicate';
    if (k & KIND.delayed) return 'delayed';
    if (k & KIND.inferred) return 'inferred';
    return '';
  }
  function drawFrame(parent, i, y, gi, withText) {
    var r = F[i], from = fFrom(r), t = fT(r);
    var xs = from >= 0 ? L.xOf[from] : L.hubX;
    var grp = gi >= 0 ? G[gi] : null;
    var g = sv('g', { 'class': 'item' + (isSel(gi >= 0 ? 'g' : 'f', gi >= 0 ? gi : i) ? ' sel' : ''), 'data-k': gi >= 0 ? 'g' : 'f', 'data-i': String(gi >= 0 ? gi : i) });
    var dl = fDl(r), dr = fDr(r), ends = [];
    if (grp) g.appendChild(sv('line', { 'class': 'bracket', x1: xs, x2: xs, y1: y, y2: Math.max(y + 2, tToY(grp.end)) }));
    var base = grp ? 'arrow group' : 'arrow';
    var hidden = Math.max(0, dl.length - MAX_ARROWS) + Math.max(0, dr.length - MAX_ARROWS) + fMore(r);
    dl = dl.slice(0, MAX_ARROWS);
    dr = dr.slice(0, MAX_ARROWS);
    dl.forEach(function (d) {
      var to = dTo(d);
      if (!S.ports[to]) return;
      var xd = L.xOf[to], yd = dDt(d) ? Math.max(y, tToY(t + dDt(d))) : y, kc = kindClass(dKind(d));
      g.appendChild(sv('line', { 'class': base + ' ' + kc, x1: xs, y1: y, x2: xd, y2: yd }));
      g.appendChild(sv('line', { 'class': 'hit', x1: xs, y1: y, x2: xd, y2: yd }));
      head(g, xd, yd, xd >= xs ? 1 : -1, kc);
      ends.push([xd, yd]);
      var tags = [];
      if (dKind(d) & KIND.delayed) tags.push(['delayed', '+' + dur(dDt(d))]);
      if (dKind(d) & KIND.duplicate) tags.push(['duplicate', 'dup']);
      if (dKind(d) & KIND.reordered) tags.push(['reordered', dOvertook(d) ? 'overtook ' + dOvertook(d) : 'reordered']);
      if (dKind(d) & KIND.corrupted) tags.push(['corrupted', 'corrupt']);
      var dir = xd >= xs ? -1 : 1, tx = xd + dir * 10;
      tags.forEach(function (tg) {
        g.appendChild(sv('text', { 'class': 'tag ' + tg[0], x: tx, y: yd + 12, 'text-anchor': dir < 0 ? 'end' : 'start' }, tg[1]));
        tx += dir * (tg[1].length * 6 + 6);
      });
    });
    var reasonEnd = null; // where the reasons' text ends, beyond the hub
    dr.forEach(function (x) {
      var xh = L.hubX, dir = xh >= xs ? 1 : -1;
      if (Math.abs(xh - xs) < 1) xh = xs + 40;
      ends.push([xh, y]);
      g.appendChild(sv('line', { 'class': base + ' dropped', x1: xs, y1: y, x2: xh, y2: y }));
      g.appendChild(sv('line', { 'class': 'hit', x1: xs, y1: y, x2: xh, y2: y }));
      g.appendChild(sv('path', { 'class': 'cross', d: 'M' + (xh - 5) + ',' + (y - 5) + 'L' + (xh + 5) + ',' + (y + 5) + 'M' + (xh - 5) + ',' + (y + 5) + 'L' + (xh + 5) + ',' + (y - 5) }));
      // The reason stands on the arrow's own line, beyond the cross,
      // where the next row's label cannot cover it; several drops of one
      // frame follow each other there.
      if (withText) {
        var why = D.strs[x[2]] + (x[0] >= 0 ? ' → ' + portName(x[0]) : '');
        var rx = reasonEnd === null ? xh + dir * 9 : reasonEnd + dir * 8;
        why = cutPx(why, Math.max(60, L.colW - 12), '11px');
        g.appendChild(sv('text', { 'class': 'reason', x: rx, y: y - 4, 'text-anchor': dir > 0 ? 'start' : 'end' }, why));
        reasonEnd = rx + dir * textWidth(why, '11px');
      }
    });
    if (ends.length === 0) { // the capture has no port receiving it (none attached, or all filtered out)
      var xn = Math.abs(L.hubX - xs) < 1 ? xs + 40 : L.hubX, dn = xn >= xs ? 1 : -1;
      g.appendChild(sv('line', { 'class': base, x1: xs, y1: y, x2: xn, y2: y }));
      g.appendChild(sv('line', { 'class': 'hit', x1: xs, y1: y, x2: xn, y2: y }));
      g.appendChild(sv('circle', { 'class': 'nobody', cx: xn, cy: y, r: 3.5 }));
      if (withText) g.appendChild(sv('text', { 'class': 'more', x: xn + dn * 8, y: y + 4, 'text-anchor': dn > 0 ? 'start' : 'end' }, 'no receiver'));
      ends.push([xn, y]);
    }
    if (hidden > 0 && withText) {
      g.appendChild(sv('text', { 'class': 'more', x: xs, y: y + 22, 'text-anchor': 'middle' }, '+' + hidden + ' more'));
    }
    if (withText) {
      var xe = ends[0][0], mid = (xs + xe) / 2;
      // with a reason beyond the hub, the label stays on the sender's side of it
      if (reasonEnd !== null) mid = (xs + (Math.abs(L.hubX - xs) < 1 ? xs + 40 : L.hubX)) / 2;
      var text = D.labels[fLabel(r)] + (grp ? ' ×' + grp.count : '');
      g.appendChild(sv('text', { 'class': 'lbl', x: mid, y: y - 4, 'text-anchor': 'middle' }, text));
      // as Frame.record: its own number, else its first copy's or drop's
      var num = grp ? grp.nums[0] + '–' + grp.nums[1] : String(fNum(r) || (dl.length ? dNum(dl[0]) : dr.length ? dr[0][1] : ''));
      var right = xe >= xs;
      g.appendChild(sv('text', { 'class': 'num', x: xs + (right ? 6 : -6), y: y + 11, 'text-anchor': right ? 'start' : 'end' }, num));
      // Failures and warnings are pinned by id; passes and information
      // share one small badge, so that they do not hide the arrows.
      var pins = grp ? groupPins(gi) : fFind(r), quiet = [];
      var px = mid + text.length * 3.3 + 6;
      if (reasonEnd !== null && reasonEnd > px) px = reasonEnd + 8; // after the reasons, not over them
      pins.forEach(function (fi) {
        var f = K[fi];
        if (f.verdict !== 'fail' && f.verdict !== 'warn') { quiet.push(fi); return; }
        px += pin(g, px, y, 'pin ' + f.verdict, fi, f.id, f.verdict.toUpperCase() + ' ' + f.id + ': ' + f.msg);
      });
      if (quiet.length) {
        var tip = quiet.map(function (fi) { return K[fi].verdict.toUpperCase() + ' ' + K[fi].id + ': ' + K[fi].msg; }).join('\n');
        pin(g, px, y, 'pin ' + (quiet.some(function (fi) { return K[fi].verdict === 'info'; }) ? 'info' : 'pass'), quiet[0],
          quiet.length === 1 ? K[quiet[0]].id : quiet.length + ' findings', tip);
      }
    }
    var tip = (grp ? grp.count + ' × ' : '') + D.labels[fLabel(r)] + ' from ' + portName(from) + ' at ' + secs6(t) + (fComment(r) ? '\n' + fComment(r) : '');
    g.appendChild(sv('title', {}, tip));
    parent.appendChild(g);
  }
  function pin(g, x, y, cls, fi, text, tip) {
    var w = text.length * 6 + 8;
    var pg = sv('g', { 'class': cls, 'data-k': 'p', 'data-i': String(fi) });
    pg.appendChild(sv('rect', { x: x, y: y - 15, width: w, height: 13, rx: 3 }));
    pg.appendChild(sv('text', { x: x + 4, y: y - 5 }, text));
    pg.appendChild(sv('title', {}, tip));
    g.appendChild(pg);
    return w + 3;
  }
  function groupPins(gi) {
    var out = [], seen = {}, n = 0;
    for (var i = G[gi].first; i < F.length && n < G[gi].count; i++) {
      if (fGroup(F[i]) !== gi) continue;
      n++;
      fFind(F[i]).forEach(function (f) { if (!seen[f]) { seen[f] = true; out.push(f); } });
    }
    return out;
  }
  function drawMarker(parent, mi, y, withText) {
    var m = M[mi], x = m[0] < 0 ? L.hubX : L.xOf[m[0]], cls = m[3] || '';
    var g = sv('g', { 'class': 'item' + (isSel('m', mi) ? ' sel' : ''), 'data-k': 'm', 'data-i': String(mi) });
    g.appendChild(sv('path', { 'class': 'marker ' + cls, d: 'M' + x + ',' + (y - 6) + 'L' + (x + 6) + ',' + y + 'L' + x + ',' + (y + 6) + 'L' + (x - 6) + ',' + y + 'Z' }));
    if (withText) {
      var right = x > L.hubX, room = right ? L.W - x - 12 : x - 76;
      g.appendChild(sv('text', { 'class': 'mtext ' + cls, x: right ? x + 10 : x - 10, y: y + 4, 'text-anchor': right ? 'start' : 'end' }, cutPx(m[2], Math.max(50, room), cls === 'fail' ? '600 11px' : '11px')));
    }
    g.appendChild(sv('title', {}, m[5] + ':' + m[4] + ' at ' + secs6(m[1]) + '\n' + m[2]));
    parent.appendChild(g);
  }

  // ---- selection and the detail panel
  function isSel(k, i) { return S.sel !== null && S.sel[0] === k && S.sel[1] === i; }
  function detail() { var d = $('detail'); d.textContent = ''; return d; }
  function dl(parent, rows) {
    var x = el('dl', {});
    rows.forEach(function (r) { if (r[1] === '' || r[1] === undefined) return; x.appendChild(el('dt', {}, r[0])); x.appendChild(el('dd', {}, String(r[1]))); });
    parent.appendChild(x);
  }
  function frameLink(parent, n) {
    var a = el('a', { 'class': 'fn' }, String(n));
    a.addEventListener('click', function () { gotoFrame(n); });
    parent.appendChild(a);
    parent.appendChild(document.createTextNode(' '));
  }
  // numRole says what record n is of frame r when it is not its own:
  // a receiver's copy, the record of a drop, a further copy.
  function numRole(r, n) {
    var of = fNum(r) ? 'frame ' + fNum(r) : fInjected(r) ? 'a frame the hub injected' : 'a frame with no ingress record', out = '';
    fDl(r).forEach(function (x) { if (!out && dNum(x) === n) out = portName(dTo(x)) + '\'s copy of ' + of; });
    fDr(r).forEach(function (x) { if (!out && x[1] === n) out = 'the drop ' + (x[0] >= 0 ? 'towards ' + portName(x[0]) + ' ' : '') + 'of ' + of; });
    if (!out && fCopies(r).indexOf(n) >= 0) out = 'a further record of ' + of;
    if (!out && fMore(r)) out = 'one of the ' + fMore(r) + ' records of ' + of + ' past those drawn';
    return out;
  }
  function selectFrame(i, n) {
    S.sel = ['f', i];
    var r = F[i], d = detail(), from = fFrom(r);
    var head = fNum(r) ? 'Frame ' + fNum(r) : 'Frame (no ingress record)';
    var role = n && n !== fNum(r) ? numRole(r, n) : '';
    if (role) head = 'Frame ' + n + ' (' + role + ')';
    d.appendChild(el('h3', {}, head + ': ' + D.labels[fLabel(r)]));
    dl(d, [['time', secs6(fT(r))], ['from', portName(from) + (from >= 0 ? '' : fInjected(r) ? ' (injected)' : ' (injected, or sent before the capture began)')],
      ['length', fLen(r) + ' bytes'], ['protocol', D.protos[proto(r)]], ['comment', fComment(r)],
      ['copies', fCopies(r).join(', ')]]);
    var gi = fGroup(r);
    if (gi >= 0) d.appendChild(el('p', {}, 'One of ' + G[gi].count + ' alike frames (' + G[gi].nums[0] + '–' + G[gi].nums[1] + ').'));
    if (fMore(r)) d.appendChild(el('p', {}, fMore(r) + ' more records of this frame (deliveries, drops or copies past the first ' + D.perFrame + ' of each, or past what a report keeps in all: see the notes above) are counted, not listed.'));
    fDl(r).forEach(function (x) {
      var p = el('p', { 'class': role && dNum(x) === n ? 'sel' : '' });
      p.appendChild(document.createTextNode('→ ' + portName(dTo(x)) + ' at ' + secs6(fT(r) + dDt(x)) + (dDt(x) ? ' (+' + dur(dDt(x)) + ')' : '') + ' as frame '));
      if (dNum(x)) frameLink(p, dNum(x)); else p.appendChild(document.createTextNode('(inferred)'));
      var ks = D.kinds.filter(function (k, b) { return dKind(x) & (1 << b); });
      if (ks.length) p.appendChild(document.createTextNode(' · ' + ks.join(', ')));
      if (dOvertook(x)) { p.appendChild(document.createTextNode(' · arrived before frame ')); frameLink(p, dOvertook(x)); }
      if (dComment(x)) p.appendChild(el('div', {}, dComment(x)));
      d.appendChild(p);
    });
    fDr(r).forEach(function (x) {
      d.appendChild(el('p', { 'class': 'drop' + (role && x[1] === n ? ' sel' : '') }, '✕ ' + (x[0] >= 0 ? 'to ' + portName(x[0]) + ': ' : '') + D.strs[x[2]] + (x[1] !== fNum(r) ? ' (frame ' + x[1] + ')' : '')));
    });
    fFind(r).forEach(function (fi) {
      var f = K[fi], p = el('p', { 'class': 'v-' + f.verdict });
      p.appendChild(el('b', {}, f.verdict.toUpperCase() + ' ' + f.id + ' '));
      p.appendChild(document.createTextNode(f.msg));
      d.appendChild(p);
    });
    showBytes(d, fBytes(r), fLen(r), 'Bytes');
    fDl(r).forEach(function (x) { if (dBytes(x)) showBytes(d, dBytes(x), fLen(r), 'Bytes as ' + portName(dTo(x)) + ' got them (frame ' + dNum(x) + ')'); });
    render();
  }
  function selectGroup(gi) {
    S.sel = ['g', gi];
    var g = G[gi], d = detail();
    d.appendChild(el('h3', {}, g.count + ' × ' + g.label + ' from ' + portName(g.from)));
    dl(d, [['frames', g.nums[0] + ' … ' + g.nums[1]], ['from', secs6(g.start)], ['to', secs6(g.end)],
      ['receivers', g.to.map(portName).join(', ') || 'none'], ['dropped', g.drop]]);
    var b = el('button', {}, groupOpen(gi) ? 'collapse' : 'expand');
    b.addEventListener('click', function () { S.expanded[gi] = !groupOpen(gi); selectGroup(gi); relayout(); });
    d.appendChild(b);
    // A frame with no ingress record (egress only) is known by its copies'.
    d.appendChild(el('p', {}, 'First of them, frame ' + g.nums[0] + ':'));
    showBytes(d, fBytes(F[g.first]), fLen(F[g.first]), 'Bytes');
  }
  function selectMarker(mi) {
    S.sel = ['m', mi];
    var m = M[mi], d = detail();
    if (m[0] < 0) { // a change made through the control API, from the capture
      d.appendChild(el('h3', {}, 'Control API'));
      var p = el('p', {}, 'At ' + secs6(m[1]) + '; the capture notes it on frame ');
      frameLink(p, m[4]);
      d.appendChild(p);
    } else {
      d.appendChild(el('h3', {}, 'Console of ' + portName(m[0])));
      dl(d, [['time', secs6(m[1])], ['log', m[5] + ', line ' + m[4]]]);
    }
    d.appendChild(el('pre', {}, m[2]));
    render();
  }
  function selectBand(i, scroll) {
    S.sel = ['b', i];
    var b = B[i], d = detail();
    d.appendChild(el('h3', {}, (b.kind === 'down' ? 'Link down' : 'Partition') + ' ' + (b.name || '')));
    d.appendChild(el('p', {}, bandText(b)));
    var p = el('p', {}, b.drops ? 'First drop ' : 'It dropped no frame.');
    if (b.drops) { frameLink(p, b.first); p.appendChild(document.createTextNode(', last ')); frameLink(p, b.last); }
    if (b.healed) { p.appendChild(document.createTextNode(', first frame across after it ')); frameLink(p, b.healed); }
    d.appendChild(p);
    if (scroll) scrollEl.scrollTop = Math.max(0, tToY(b.control ? b.began : b.start) - scrollEl.clientHeight / 3);
    render();
  }
  function selectFinding(fi, scroll) {
    S.finding = fi;
    var f = K[fi], d = detail();
    document.querySelectorAll('#findings tbody tr').forEach(function (tr) { tr.classList.toggle('sel', tr.getAttribute('data-finding') === String(fi)); });
    d.appendChild(el('h3', {}, f.verdict.toUpperCase() + ' ' + f.id));
    d.appendChild(el('p', {}, f.msg + (f.count > 1 ? ' (×' + f.count + ')' : '')));
    d.appendChild(el('p', { 'class': 'hint' }, f.title));
    var p = el('p', {}, f.frames.length ? 'Frames: ' : 'No frame: a finding about the whole run.');
    f.frames.forEach(function (n) { frameLink(p, n); });
    d.appendChild(p);
    if (scroll && f.frames.length) gotoFrame(f.frames[0], true);
  }

  // ---- going to a frame number (the capture's, as Wireshark shows it)
  var numIndex = null;
  function indexNumbers() {
    numIndex = new Map();
    F.forEach(function (r, i) {
      if (fNum(r)) numIndex.set(fNum(r), i);
      fDl(r).forEach(function (d) { if (dNum(d)) numIndex.set(dNum(d), i); });
      fDr(r).forEach(function (x) { if (x[1]) numIndex.set(x[1], i); });
      fCopies(r).forEach(function (n) { numIndex.set(n, i); });
    });
  }
  function gotoFrame(n, keepPanel) {
    if (!numIndex) indexNumbers();
    var i = numIndex.get(n);
    if (i === undefined) { $('status').textContent = 'frame ' + n + ' is not in the diagram'; return; }
    var r = F[i], g = fGroup(r);
    if (g >= 0) S.expanded[g] = true;
    // The sender, every receiver and every port it was dropped towards
    // are shown again, and its protocol: a filtered-out receiver would
    // hide the frame.
    var from = fFrom(r);
    if (from >= 0) S.ports[from] = true;
    fDl(r).forEach(function (d) { S.ports[dTo(d)] = true; });
    fDr(r).forEach(function (x) { if (x[0] >= 0) S.ports[x[0]] = true; });
    S.protos[proto(r)] = true;
    document.querySelectorAll('#port-filter input, #proto-filter input').forEach(function (cb) {
      var p = cb.getAttribute('data-port'), q = cb.getAttribute('data-proto');
      cb.checked = p !== null ? S.ports[+p] : S.protos[D.protos.indexOf(q)];
    });
    layout();
    var j = rowOf(i);
    // Rows around it too close to tell apart: zoom in around it until
    // they are about a label's height apart.
    if (j >= 0) {
      var a = Math.max(0, j - 3), b = Math.min(L.n - 1, j + 3);
      var pitch = b > a ? (L.Y[b] - L.Y[a]) / (b - a) : Infinity;
      var most = mostZoom();
      if (pitch > 0 && pitch < 4 && S.zoom[S.mode] < most) {
        S.zoom[S.mode] = Math.min(most, S.zoom[S.mode] * 14 / pitch);
        layout();
        j = rowOf(i);
      }
    }
    var y = j >= 0 ? L.Y[j] : tToY(fT(r));
    scrollEl.scrollTop = Math.max(0, y - scrollEl.clientHeight / 3);
    if (keepPanel) { S.sel = ['f', i]; render(); } else selectFrame(i, n);
  }
  function rowOf(i) {
    for (var j = 0; j < L.n; j++) if (L.kind[j] === 0 && L.idx[j] === i) return j;
    return -1;
  }

  // ---- bytes: hex dump and decoded headers
  function bytesOf(b64) {
    var s = atob(b64), out = new Uint8Array(s.length);
    for (var i = 0; i < s.length; i++) out[i] = s.charCodeAt(i);
    return out;
  }
  function showBytes(d, b64, len, title) {
    var b = bytesOf(b64);
    decode(b).forEach(function (layer) {
      var box = el('div', { 'class': 'layer' });
      box.appendChild(el('b', {}, layer[0]));
      dl(box, layer[1]);
      d.appendChild(box);
    });
    d.appendChild(el('b', {}, title + (b.length < len ? ' (the first ' + b.length + ' of ' + len + ')' : '')));
    var lines = [];
    for (var o = 0; o < b.length; o += 16) {
      var hex = '', asc = '';
      for (var j = 0; j < 16; j++) {
        if (o + j < b.length) { var c = b[o + j]; hex += (c < 16 ? '0' : '') + c.toString(16) + ' '; asc += c >= 32 && c < 127 ? String.fromCharCode(c) : '.'; }
        else hex += '   ';
        if (j === 7) hex += ' ';
      }
      lines.push(('000' + o.toString(16)).slice(-4) + '  ' + hex + ' ' + asc);
    }
    d.appendChild(el('pre', { 'class': 'hex' }, lines.join('\n')));
  }
  function mac(b, o) { var s = []; for (var i = 0; i < 6; i++) s.push(('0' + b[o + i].toString(16)).slice(-2)); return s.join(':'); }
  function ip4(b, o) { return b[o] + '.' + b[o + 1] + '.' + b[o + 2] + '.' + b[o + 3]; }
  function ip6(b, o) { var s = []; for (var i = 0; i < 16; i += 2) s.push(((b[o + i] << 8) | b[o + i + 1]).toString(16)); return s.join(':'); }
  function u16(b, o) { return (b[o] << 8) | b[o + 1]; }
  function u32(b, o) { return ((b[o] << 24) >>> 0) + ((b[o + 1] << 16) | (b[o + 2] << 8) | b[o + 3]); }
  function hexs(b, o, n) { var s = ''; for (var i = o; i < o + n && i < b.length; i++) s += ('0' + b[i].toString(16)).slice(-2); return s; }
  function decode(b) {
    var out = [];
    if (b.length < 14) { out.push(['Runt', [['length', b.length + ' bytes']]]); return out; }
    var et = u16(b, 12), o = 14;
    var eth = [['destination', mac(b, 0)], ['source', mac(b, 6)]];
    if (et === 0x8100 && b.length >= 18) { eth.push(['VLAN', String(u16(b, 14) & 0xfff)]); et = u16(b, 16); o = 18; }
    eth.push(['type', '0x' + ('000' + et.toString(16)).slice(-4)]);
    out.push(['Ethernet II', eth]);
    if (et === 0x0806 && b.length >= o + 28) {
      var op = u16(b, o + 6);
      out.push(['ARP', [['operation', op === 1 ? 'request (1)' : op === 2 ? 'reply (2)' : String(op)],
        ['sender', mac(b, o + 8) + ' ' + ip4(b, o + 14)], ['target', mac(b, o + 18) + ' ' + ip4(b, o + 24)]]]);
      return out;
    }
    var proto = -1, l4 = -1, end = b.length;
    if (et === 0x0800 && b.length >= o + 20 && (b[o] >> 4) === 4) {
      var ihl = (b[o] & 15) * 4, total = u16(b, o + 2), frag = u16(b, o + 6);
      proto = b[o + 9];
      out.push(['IPv4', [['source', ip4(b, o + 12)], ['destination', ip4(b, o + 16)], ['protocol', String(proto)], ['ttl', String(b[o + 8])],
        ['total length', String(total)], ['id', '0x' + u16(b, o + 4).toString(16)],
        ['fragment', (frag & 0x2000 ? 'MF ' : '') + (frag & 0x4000 ? 'DF ' : '') + 'offset ' + ((frag & 0x1fff) * 8)], ['checksum', '0x' + u16(b, o + 10).toString(16)]]]);
      if ((frag & 0x3fff & ~0x4000) !== 0) return out;
      l4 = o + ihl; end = Math.min(b.length, o + total);
    } else if (et === 0x86dd && b.length >= o + 40) {
      proto = b[o + 6];
      out.push(['IPv6', [['source', ip6(b, o + 8)], ['destination', ip6(b, o + 24)], ['next header', String(proto)], ['hop limit', String(b[o + 7])]]]);
      l4 = o + 40; end = Math.min(b.length, o + 40 + u16(b, o + 4));
    } else return out;
    if (proto === 17 && end >= l4 + 8) {
      var sp = u16(b, l4), dp = u16(b, l4 + 2);
      out.push(['UDP', [['source port', String(sp)], ['destination port', String(dp)], ['length', String(u16(b, l4 + 4))], ['checksum', '0x' + u16(b, l4 + 6).toString(16)]]]);
      if (dp === 37020) announce(b, l4 + 8, end, out);
    } else if (proto === 6 && end >= l4 + 20) {
      var off = (b[l4 + 12] >> 4) * 4, fl = b[l4 + 13], names = [];
      ['FIN', 'SYN', 'RST', 'PSH', 'ACK', 'URG'].forEach(function (n, i) { if (fl & (1 << i)) names.push(n); });
      out.push(['TCP', [['source port', String(u16(b, l4))], ['destination port', String(u16(b, l4 + 2))], ['sequence', String(u32(b, l4 + 4))],
        ['acknowledgement', String(u32(b, l4 + 8))], ['flags', names.join(' ') || 'none'], ['window', String(u16(b, l4 + 14))],
        ['header', off + ' bytes'], ['payload', Math.max(0, end - l4 - off) + ' bytes (in the bytes shown)']]]);
    } else if (proto === 1 && end >= l4 + 4) {
      var rows = [['type', String(b[l4])], ['code', String(b[l4 + 1])]];
      if ((b[l4] === 0 || b[l4] === 8) && end >= l4 + 8) { rows.push(['id', String(u16(b, l4 + 4))]); rows.push(['sequence', String(u16(b, l4 + 6))]); }
      out.push(['ICMP', rows]);
    }
    return out;
  }
  // An NXSB v1 announce: magic, version, device id, port, static key, services.
  function announce(b, o, end, out) {
    if (end < o + 6 || b[o] !== 78 || b[o + 1] !== 88 || b[o + 2] !== 83 || b[o + 3] !== 66) return;
    var rows = [['version', String(b[o + 4])]], p = o + 5;
    function name() {
      if (p >= end) return null;
      var n = b[p], s = '';
      if (p + 1 + n > end) return null;
      for (var i = p + 1; i < p + 1 + n; i++) s += String.fromCharCode(b[i]);
      p += 1 + n;
      try { return decodeURIComponent(escape(s)); } catch (e) { return s; }
    }
    var id = name();
    if (id === null) { out.push(['NXSB announce (cut)', rows]); return; }
    rows.push(['device id', id]);
    if (p + 34 <= end) {
      rows.push(['port', String(u16(b, p))]); rows.push(['static key', hexs(b, p + 2, 32)]);
      p += 34;
      if (p < end) {
        var n = b[p], svc = [];
        p++;
        for (var i = 0; i < n && i < 16; i++) { var s = name(); if (s === null) break; svc.push(s); }
        rows.push(['services', svc.join(', ')]);
      }
    }
    out.push(['NXSB announce', rows]);
  }

  // ---- start
  header();
  controls();
  layout();
  var h0 = scrollEl.clientHeight;
  if (L.height > h0 && h0 > 200) { // fit the run when its rows stay readable
    S.zoom.seq = Math.max(0.7, (h0 - 120) / (L.height - 120));
    layout();
  }
  render();
  document.body.setAttribute('data-ready', '1');
  document.body.setAttribute('data-render-ms', String(Math.round(performance.now())));
  window.l2hubReport = { state: S, gotoFrame: gotoFrame, fit: fit, relayout: relayout };
})();

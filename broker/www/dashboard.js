// art17 dashboard: polls /api/state (same origin, same credentials) and
// redraws. Read-only; every string from the broker goes in as text.
'use strict';
const STATES = ['queued', 'delivered', 'acked', 'accepted', 'answered',
	'withdrawn', 'overdue'];
const TIMES = {queued: 'queued_ms', delivered: 'delivered_ms',
	acked: 'acked_ms', accepted: 'accepted_ms', answered: 'answered_ms'};

function el(tag, attrs, ...kids) {
	const e = document.createElement(tag);
	for (const [k, v] of Object.entries(attrs || {}))
		e.setAttribute(k, v);
	for (const k of kids)
		e.append(k instanceof Node ? k : document.createTextNode(String(k)));
	return e;
}

function fmt(ms) {
	return ms > 0 ? new Date(ms).toISOString().replace('.000Z', 'Z') : '';
}

function exerciseBanner(what) {
	return el('div', {class: 'exercise-banner'}, el('span', {},
		'EXERCISE — ' + what + ' — DRILL TRAFFIC, NOT A REAL INCIDENT'));
}

function incidents(list) {
	if (list.length === 0)
		return el('p', {}, 'No incidents.');
	const t = el('table', {id: 'incident-table'},
		el('tr', {}, el('th', {}, 'incident'), el('th', {}, 'title'),
			el('th', {}, 'large-scale flag'), el('th', {}, 'status'),
			el('th', {}, 'declared')));
	for (const i of list) {
		const tr = el('tr', {'data-incident': i.id,
			class: i.exercise ? 'exercise' : ''},
			el('td', {}, i.id, i.exercise ? ' ' : '',
				i.exercise ? el('span', {class: 'tag tag-ex'}, 'EXERCISE') : ''),
			el('td', {}, i.title),
			el('td', {}, el('span', {class: 'tag flag-' + i.flag,
				'data-flag': i.flag}, i.flag +
				(i.flag === 'active' && i.flag_expires_ms ?
					' until ' + fmt(i.flag_expires_ms) : ''))),
			el('td', {}, i.closed ? 'closed' : 'open'),
			el('td', {}, fmt(i.declared_ms)));
		t.append(tr);
	}
	return t;
}

function curve(r) {
	const W = 360, H = 120, P = 24;
	const svg = document.createElementNS('http://www.w3.org/2000/svg', 'svg');
	svg.setAttribute('width', W);
	svg.setAttribute('height', H);
	svg.setAttribute('class', 'curve');
	const n = Math.max(r.n_copies, 1);
	const tmax = Math.max(r.curve.length ? r.curve[r.curve.length - 1][0] : 1, 0.001);
	let pts = P + ',' + (H - P);
	for (const [t, c] of r.curve) {
		const x = P + (W - 2 * P) * t / tmax, y = H - P - (H - 2 * P) * c / n;
		pts += ' ' + x.toFixed(1) + ',' + y.toFixed(1);
	}
	const line = document.createElementNS('http://www.w3.org/2000/svg', 'polyline');
	line.setAttribute('points', pts);
	line.setAttribute('fill', 'none');
	line.setAttribute('stroke', '#1d3557');
	line.setAttribute('stroke-width', '2');
	svg.append(line);
	const label = document.createElementNS('http://www.w3.org/2000/svg', 'text');
	label.setAttribute('x', P);
	label.setAttribute('y', 14);
	label.setAttribute('font-size', '11');
	label.textContent = 'receipts: ' + r.curve.length + ' of ' + r.n_copies +
		' in ' + tmax.toFixed(2) + ' s';
	svg.append(label);
	return el('div', {}, el('h4', {}, 'Receipt curve (receipts over seconds since issue)'), svg);
}

function request(r) {
	const box = el('div', {class: 'request' + (r.exercise ? ' exercise' : ''),
		'data-request': r.id});
	if (r.exercise)
		box.append(exerciseBanner(r.id));
	box.append(el('h3', {}, r.id + ' — ' + r.title),
		el('p', {}, r.kind + ', incident ' + r.incident_id + ', issued ' +
			fmt(r.issued_ms) + (r.deadline_ms ? ', deadline ' + fmt(r.deadline_ms) : '')));
	const counts = el('p', {class: 'counts'});
	counts.append(STATES.map(s => s + ': ' + (r.counts[s] || 0)).join(' · '));
	box.append(counts);
	const t = el('table', {class: 'matrix'});
	t.append(el('tr', {}, el('th', {}, 'member'), ...STATES.map(s => el('th', {}, s))));
	for (const c of r.copies) {
		const tr = el('tr', {'data-member': c.member, 'data-state': c.state},
			el('td', {}, c.member));
		for (const s of STATES) {
			const cur = c.state === s;
			const td = el('td', {class: 'cell ' + s + (cur ? ' cur' : '')},
				cur ? '● ' : '', TIMES[s] && c[TIMES[s]] ? fmt(c[TIMES[s]]).slice(11) : '');
			if (cur && c.reason)
				td.title = c.reason;
			tr.append(td);
		}
		t.append(tr);
	}
	box.append(t, curve(r));
	return box;
}

async function refresh() {
	const st = document.getElementById('status');
	try {
		const res = await fetch('api/state', {credentials: 'same-origin',
			cache: 'no-store'});
		if (!res.ok)
			throw new Error('HTTP ' + res.status);
		const s = await res.json();
		const anyEx = s.incidents.some(i => i.exercise) ||
			s.requests.some(r => r.exercise);
		const top = document.getElementById('exercise-top');
		top.replaceChildren(anyEx ? exerciseBanner('exercise items below') : '');
		document.title = (anyEx ? 'EXERCISE · ' : '') + 'art17 coordinator dashboard';
		document.getElementById('incidents').replaceChildren(incidents(s.incidents));
		const rq = document.getElementById('requests');
		rq.replaceChildren(...(s.requests.length ? s.requests.map(request) :
			[el('p', {}, 'No requests.')]));
		st.textContent = 'members ' + s.members + ' · agents connected ' +
			s.connected + ' · updated ' + fmt(s.now_ms);
		st.setAttribute('data-updated', String(s.now_ms));
	} catch (e) {
		st.textContent = 'cannot reach the broker: ' + e.message;
	}
}
refresh();
setInterval(refresh, 1000);

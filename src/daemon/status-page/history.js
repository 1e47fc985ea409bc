// The status page's charts of the last minutes (from /v1/history): traffic by lane and by
// channel, each channel's limits in use, the send queues, downloads and refusals.
import { chart, draw } from './charts.js';
import { formatValue } from './dom.js';
import { NEAR_LIMIT } from './now.js';

const LANES = ['control', 'high', 'bulk'];

export function renderHistory(hist, status) {
  const samples = hist.samples;
  const times = samples.map((s) => s.t);
  const pick = (f) => samples.map(f);
  const bytesPerSecond = { unit: 'B', perSecond: true, yLabel: 'bytes per second' };
  const lanes = document.getElementById('lane-charts');
  for (const lane of LANES) {
    const series = ['sent', 'received'];
    const c = chart(lanes, `lane-${lane}`, { title: `${lane} lane`, series, ...bytesPerSecond });
    draw(c, times, [pick((s) => s.lanes[lane].sent), pick((s) => s.lanes[lane].received)]);
  }
  const traffic = document.getElementById('channel-charts');
  const limits = document.getElementById('limit-charts');
  for (const ch of status.channels) {
    const name = ch.name;
    const c = chart(traffic, `channel-${name}`, {
      title: `channel ${name}`,
      series: ['delivered to this node', 'broadcast via the API'],
      ...bytesPerSecond,
    });
    draw(c, times, [
      pick((s) => s.channels[name]?.deliveredBytes ?? 0),
      pick((s) => s.channels[name]?.postedBytes ?? 0),
    ]);
    const u = chart(limits, `limits-${name}`, {
      title: `channel ${name}`,
      subtitle: `of ${ch.slots.max} slots, ${ch.held.maxArtifacts} artifacts, ${formatValue(ch.held.maxBytes, 'B')}`,
      series: ['slots', 'artifacts held', 'bytes held'],
      unit: '%',
      yLabel: '% of limit',
      floor: 100,
    });
    u.marks = [{ value: NEAR_LIMIT * 100, label: 'warning', class: 'near' }];
    const pct = (v, max) => (max > 0 ? (v / max) * 100 : 0);
    draw(u, times, [
      pick((s) => pct(s.channels[name]?.slots ?? 0, ch.slots.max)),
      pick((s) => pct(s.channels[name]?.heldArtifacts ?? 0, ch.held.maxArtifacts)),
      pick((s) => pct(s.channels[name]?.heldBytes ?? 0, ch.held.maxBytes)),
    ]);
  }
  const queues = document.getElementById('queue-charts');
  const send = chart(queues, 'send-queues', {
    title: 'send queues',
    subtitle: 'all links',
    series: LANES,
    unit: 'B',
    yLabel: 'bytes waiting',
  });
  draw(
    send,
    times,
    LANES.map((lane) => pick((s) => s.queues.send[lane])),
  );
  const work = chart(queues, 'downloads', {
    title: 'downloads',
    series: ['wanted', 'downloading', 'validating'],
    unit: '',
    yLabel: 'artifacts',
  });
  draw(work, times, [
    pick((s) => s.queues.wants),
    pick((s) => s.queues.downloading),
    pick((s) => s.queues.validating),
  ]);
  const refusals = chart(queues, 'refusals', {
    title: 'refusals',
    series: ['links', 'adverts', 'peer faults', 'deliveries dropped', 'API errors'],
    unit: '',
    perSecond: true,
    yLabel: 'per second',
  });
  draw(refusals, times, [
    pick((s) => s.refusals.links),
    pick((s) => s.refusals.adverts),
    pick((s) => s.refusals.peerFaults),
    pick((s) => s.refusals.deliveriesDropped),
    pick((s) => s.refusals.api),
  ]);
}

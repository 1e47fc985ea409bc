import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { LinkClosedError, MessageTooLargeError, QueueFullError } from '../../src/errors.ts';
import { FrameDecoder } from '../../src/transport/frame.ts';
import { Lane } from '../../src/transport/lanes.ts';
import {
  afterThisTurn,
  type FrameSink,
  SendScheduler,
  type SendSchedulerOptions,
} from '../../src/transport/send-scheduler.ts';

/** A sink that holds what it is given until `flush()`; decodes everything it flushed. */
class FakeSink implements FrameSink {
  writableLength = 0;
  writes: number[] = [];
  framesByLane: Lane[] = [];
  delivered: { lane: Lane; size: number }[] = [];
  #pending: Buffer[] = [];
  readonly decoder = new FrameDecoder(
    { maxFrameBytes: 1 << 20, maxMessageBytes: 1 << 30, maxControlMessageBytes: 1 << 20 },
    (lane, m) => this.delivered.push({ lane, size: m.length }),
    (lane) => this.framesByLane.push(lane),
  );
  write(chunks: readonly Uint8Array[]): boolean {
    const bytes = Buffer.concat(chunks);
    this.writableLength += bytes.length;
    this.writes.push(bytes.length);
    this.#pending.push(bytes);
    return this.writableLength < 16 * 1024;
  }
  flush(): void {
    for (const b of this.#pending) this.decoder.push(b);
    this.#pending = [];
    this.writableLength = 0;
  }
}

function scheduler(sink: FrameSink, over: Partial<SendSchedulerOptions> = {}) {
  return new SendScheduler(sink, {
    maxFrameBytes: 1024,
    maxMessageBytes: [1024, 1 << 24, 1 << 24],
    maxQueuedBytes: [1 << 20, 1 << 24, 1 << 24],
    maxSinkBufferedBytes: 4096,
    minShare: [0, 0, 0.1],
    ...over,
  });
}

/** Pumps until every queue is empty, flushing the sink as a socket would. */
function drainAll(s: SendScheduler, sink: FakeSink): void {
  for (let i = 0; i < 1_000_000; i++) {
    sink.flush();
    s.pump();
    if ([Lane.control, Lane.high, Lane.bulk].every((l) => s.queuedBytes(l) === 0)) break;
  }
  sink.flush();
}

describe('send scheduler', () => {
  it('never hands the sink more than its buffered bound (plus one frame) at once', () => {
    const sink = new FakeSink();
    const s = scheduler(sink);
    void s.enqueue(Lane.bulk, new Uint8Array(100_000));
    assert.ok(sink.writableLength <= 4096 + 1024 + 6, `sink holds ${sink.writableLength}`);
    assert.ok(s.waitingForDrain);
  });

  it('a high-lane message overtakes a bulk message already in progress', async () => {
    const sink = new FakeSink();
    const s = scheduler(sink);
    const bulkDone = s.enqueue(Lane.bulk, new Uint8Array(1 << 20));
    sink.flush();
    s.pump();
    const highDone = s.enqueue(Lane.high, new Uint8Array(100));
    drainAll(s, sink);
    await Promise.all([bulkDone, highDone]);
    assert.deepEqual(
      sink.delivered.map((d) => d.lane),
      [Lane.high, Lane.bulk],
    );
  });

  it('gives a backlogged bulk lane its minimum share while high traffic saturates', () => {
    const sink = new FakeSink();
    const s = scheduler(sink, { maxSinkBufferedBytes: 1 });
    void s.enqueue(Lane.bulk, new Uint8Array(1 << 20));
    void s.enqueue(Lane.high, new Uint8Array(1 << 20));
    for (let i = 0; i < 500; i++) {
      sink.flush();
      s.pump();
    }
    const bulk = sink.framesByLane.filter((l) => l === Lane.bulk).length;
    const share = bulk / sink.framesByLane.length;
    assert.ok(share >= 0.09 && share <= 0.12, `bulk share ${share}`);
  });

  it('serves strict priority when no minimum share is configured', () => {
    const sink = new FakeSink();
    const s = scheduler(sink, { maxSinkBufferedBytes: 1, minShare: [0, 0, 0] });
    void s.enqueue(Lane.bulk, new Uint8Array(64 * 1024));
    sink.flush();
    void s.enqueue(Lane.high, new Uint8Array(64 * 1024));
    for (let i = 0; i < 64; i++) {
      sink.flush();
      s.pump();
    }
    // After the first bulk frame, all 64 high frames go before any more bulk.
    assert.deepEqual(sink.framesByLane.slice(0, 65), [Lane.bulk, ...Array(64).fill(Lane.high)]);
  });

  it('control frames go first', () => {
    const sink = new FakeSink();
    const s = scheduler(sink, { maxSinkBufferedBytes: 1 });
    void s.enqueue(Lane.bulk, new Uint8Array(10_000));
    void s.enqueue(Lane.high, new Uint8Array(10_000));
    void s.enqueue(Lane.control, new Uint8Array(10));
    drainAll(s, sink);
    // The first bulk frame was already out; the control message goes next.
    assert.deepEqual(sink.framesByLane.slice(0, 2), [Lane.bulk, Lane.control]);
    assert.equal(sink.delivered[0]!.lane, Lane.control);
  });

  it('refuses a message over the lane limit and a queue over its byte limit', async () => {
    const sink = new FakeSink();
    const s = scheduler(sink, { maxQueuedBytes: [100, 10_000, 10_000], maxSinkBufferedBytes: 1 });
    await assert.rejects(s.enqueue(Lane.control, new Uint8Array(2000)), MessageTooLargeError);
    void s.enqueue(Lane.high, new Uint8Array(9000));
    void s.enqueue(Lane.high, new Uint8Array(900));
    await assert.rejects(s.enqueue(Lane.high, new Uint8Array(2000)), QueueFullError);
    assert.ok(s.queuedBytes(Lane.high) <= 10_000);
  });

  it('fails queued messages when closed, and later ones too', async () => {
    const sink = new FakeSink();
    const s = scheduler(sink, { maxSinkBufferedBytes: 1 });
    const queued = s.enqueue(Lane.bulk, new Uint8Array(100_000));
    s.close(new LinkClosedError('gone'));
    await assert.rejects(queued, LinkClosedError);
    await assert.rejects(s.enqueue(Lane.high, new Uint8Array(1)), LinkClosedError);
    assert.equal(s.queuedBytes(Lane.bulk), 0);
  });

  it('batches small messages into one write', () => {
    const sink = new FakeSink();
    const s = scheduler(sink);
    sink.writableLength = 1 << 20; // the sink is busy: messages only queue
    for (let i = 0; i < 50; i++) void s.enqueue(Lane.high, new Uint8Array(40));
    sink.writableLength = 0;
    s.pump();
    assert.equal(sink.writes.length, 1);
    assert.equal(sink.writes[0], 50 * (6 + 40));
  });

  it('with a deferred pump, the messages of one burst go in one write, in lane order', async () => {
    const sink = new FakeSink();
    const s = scheduler(sink, { defer: queueMicrotask, maxSinkBufferedBytes: 1 << 20 });
    for (let i = 0; i < 20; i++) s.push(Lane.bulk, new Uint8Array(40));
    s.push(Lane.control, new Uint8Array(8));
    void s.enqueue(Lane.high, new Uint8Array(40));
    assert.equal(sink.writes.length, 0, 'nothing written during the burst');
    await new Promise<void>((resolve) => queueMicrotask(resolve));
    assert.equal(sink.writes.length, 1, 'one write for the whole burst');
    assert.equal(sink.writes[0], 20 * (6 + 40) + (6 + 8) + (6 + 40));
    sink.flush();
    // By priority, not by arrival: control first, high before all but bulk's minimum share.
    assert.equal(sink.framesByLane[0], Lane.control);
    assert.ok(sink.framesByLane.indexOf(Lane.high) <= 2, String(sink.framesByLane));
  });

  it("with the links' pump (after this turn), messages queued across awaits and callbacks go in one write", async () => {
    const sink = new FakeSink();
    const s = scheduler(sink, { defer: afterThisTurn, maxSinkBufferedBytes: 1 << 20 });
    // An application that awaits between its sends: a microtask pump would run at each await,
    // one write per message.
    for (let i = 0; i < 10; i++) {
      void s.enqueue(Lane.high, new Uint8Array(40));
      await Promise.resolve();
    }
    assert.equal(sink.writes.length, 0, 'nothing written within the turn');
    // Two callbacks of the same turn (two socket reads, say), each with its own microtasks.
    await new Promise<void>((resolve) => {
      setImmediate(() => {
        s.push(Lane.bulk, new Uint8Array(40));
        queueMicrotask(() => s.push(Lane.bulk, new Uint8Array(40)));
      });
      setImmediate(() => {
        s.push(Lane.control, new Uint8Array(8));
        setImmediate(resolve);
      });
    });
    assert.equal(sink.writes.length, 2, `writes: ${sink.writes}`);
    assert.equal(sink.writes[0], 10 * (6 + 40), 'the ten awaited messages: one write');
    assert.equal(sink.writes[1], 2 * (6 + 40) + (6 + 8), 'the two callbacks: one write');
  });

  it('flushDue() hands the messages of a due deferred pump to the sink at once (a link closing)', () => {
    const sink = new FakeSink();
    const s = scheduler(sink, { defer: () => undefined, maxSinkBufferedBytes: 1 << 20 });
    s.flushDue();
    assert.equal(sink.writes.length, 0, 'nothing due, nothing written');
    s.push(Lane.high, new Uint8Array(40));
    s.push(Lane.bulk, new Uint8Array(40));
    s.flushDue();
    assert.deepEqual(sink.writes, [2 * (6 + 40)]);
  });

  it('with a deferred pump, a credit still sends the frames it lets go at once', () => {
    const sink = new FakeSink();
    let deferred = 0;
    const s = scheduler(sink, {
      defer: () => {
        deferred += 1; // never run: only the credit may pump
      },
      maxSinkBufferedBytes: 1 << 20,
    });
    s.setWindow(Lane.bulk, 2 * (1024 + 6));
    void s.enqueue(Lane.bulk, new Uint8Array(8 * 1024));
    s.flushDue();
    assert.equal(s.inFlight(Lane.bulk), 2 * 1030, 'a window of frames in flight');
    const writes = sink.writes.length;
    deferred = 0;
    s.credit(Lane.bulk, 1030);
    assert.equal(sink.writes.length, writes + 1, 'the credited frame went at once');
    assert.equal(s.inFlight(Lane.bulk), 2 * 1030);
    assert.equal(deferred, 0, 'no deferred pump asked for');
  });

  it('with a deferred pump, a burst over a queue limit pumps first, as an immediate pump would', () => {
    const sink = new FakeSink();
    const s = scheduler(sink, {
      defer: () => undefined, // the deferred pump never comes: only the limit may pump
      maxQueuedBytes: [100, 3000, 3000],
      maxSinkBufferedBytes: 1 << 20,
    });
    assert.equal(s.push(Lane.high, new Uint8Array(2000)), undefined);
    assert.equal(s.push(Lane.high, new Uint8Array(2000)), undefined, 'the first went to the sink');
    assert.equal(s.queuedBytes(Lane.high), 2000);
  });

  it('holds bulk frames beyond the flow-control window until credited, never high ones', () => {
    const sink = new FakeSink();
    const s = scheduler(sink, { maxSinkBufferedBytes: 1 << 20 });
    s.setWindow(Lane.bulk, 4 * (1024 + 6));
    void s.enqueue(Lane.bulk, new Uint8Array(100 * 1024));
    assert.equal(s.inFlight(Lane.bulk), 4 * 1030);
    assert.equal(sink.framesByLane.length, 0); // not flushed yet
    sink.flush();
    s.pump();
    assert.equal(sink.framesByLane.length, 4, 'nothing more without credit');
    void s.enqueue(Lane.high, new Uint8Array(10 * 1024));
    sink.flush();
    assert.equal(sink.framesByLane.filter((l) => l === Lane.high).length, 10);
    s.credit(Lane.bulk, 2 * 1030);
    sink.flush();
    assert.equal(sink.framesByLane.filter((l) => l === Lane.bulk).length, 6);
    assert.equal(s.inFlight(Lane.bulk), 4 * 1030);
  });

  it('lets one frame at a time through a window smaller than a frame', () => {
    const sink = new FakeSink();
    const s = scheduler(sink, { maxSinkBufferedBytes: 1 << 20 });
    s.setWindow(Lane.bulk, 10);
    void s.enqueue(Lane.bulk, new Uint8Array(3 * 1024));
    sink.flush();
    assert.equal(sink.framesByLane.length, 1);
    s.credit(Lane.bulk, 1030);
    s.credit(Lane.bulk, 1030);
    s.credit(Lane.bulk, 1030);
    sink.flush();
    assert.equal(sink.framesByLane.length, 3);
    assert.equal(sink.delivered.length, 1);
  });

  it('treats a window of 0 as no window', () => {
    const sink = new FakeSink();
    const s = scheduler(sink, { maxSinkBufferedBytes: 1 << 20 });
    s.setWindow(Lane.bulk, 0);
    void s.enqueue(Lane.bulk, new Uint8Array(64 * 1024));
    sink.flush();
    assert.equal(sink.delivered.length, 1);
  });

  it('frames a message given as several parts, across frame boundaries, byte for byte', () => {
    const sink = new FakeSink();
    const got: Buffer[] = [];
    const decoder = new FrameDecoder(
      { maxFrameBytes: 1024, maxMessageBytes: 1 << 20, maxControlMessageBytes: 1024 },
      (_lane, m) => got.push(m),
    );
    const s = new SendScheduler(
      {
        writableLength: 0,
        write: (chunks) => {
          for (const c of chunks) decoder.push(Buffer.from(c));
          return true;
        },
      },
      {
        maxFrameBytes: 1024,
        maxMessageBytes: [1024, 1 << 20, 1 << 20],
        maxQueuedBytes: [1 << 20, 1 << 20, 1 << 20],
        maxSinkBufferedBytes: 1 << 20,
        minShare: [0, 0, 0],
      },
    );
    void sink;
    const parts = [
      new Uint8Array(3),
      new Uint8Array(0),
      new Uint8Array(2500),
      new Uint8Array(20_000),
      new Uint8Array(1),
    ];
    let n = 0;
    for (const p of parts) for (let i = 0; i < p.length; i++) p[i] = n++ % 251;
    void s.enqueue(Lane.bulk, parts);
    assert.equal(got.length, 1);
    assert.deepEqual(got[0], Buffer.concat(parts));
  });

  it('shrinks the bulk window when credits come back slowly, and grows it back when they are fast', () => {
    let now = 0;
    const sink = new FakeSink();
    const s = scheduler(sink, {
      maxSinkBufferedBytes: 1 << 30,
      delayControl: { now: () => now, targetDelayMs: 20, minWindowBytes: 4 * 1030 },
    });
    const announced = 64 * 1030;
    s.setWindow(Lane.bulk, announced);
    for (let i = 0; i < 15; i++) void s.enqueue(Lane.bulk, new Uint8Array(1 << 20));
    const start = s.window(Lane.bulk);
    assert.ok(start >= 4 * 1030 && start <= announced);
    // A long but steady round trip (100 ms) is not queueing: the window stays open.
    for (let i = 0; i < 50; i++) {
      now += 100;
      s.credit(Lane.bulk, s.inFlight(Lane.bulk));
      sink.flush();
    }
    assert.equal(s.window(Lane.bulk), announced, 'a long round trip alone does not shrink it');
    // A receiver falling behind: credits come back later and later (queueing grows).
    for (let i = 0; i < 200; i++) {
      now += 100 + 30 * i;
      s.credit(Lane.bulk, s.inFlight(Lane.bulk));
      sink.flush();
    }
    assert.equal(s.window(Lane.bulk), 4 * 1030, 'down to the floor');
    assert.ok(s.creditDelayMs[Lane.bulk]! > 20);
    // A fast receiver: credits come back within 1 ms.
    for (let i = 0; i < 200; i++) {
      now += 1;
      s.credit(Lane.bulk, s.inFlight(Lane.bulk));
      sink.flush();
    }
    assert.equal(s.window(Lane.bulk), announced, 'back up to what the peer announced');
  });
});

// The page's Generate mode: the server's video-world model generates the session's video frame by
// frame (POST /whip?pipeline=generate); arrow keys, a drag on the video or the buttons steer its
// object over the data channel, the scene selector switches the scene (a KV re-cache on the
// server). Shows frames per second as the page presents them and the control-to-frame latency.

const $ = (id) => /** @type {any} */ (document.getElementById(id));

const ui = {
  panel: $('generate-panel'),
  video: $('generate-video'),
  scene: $('generate-scene'),
  fps: $('generate-fps'),
  latency: $('generate-latency'),
  roundTrip: $('generate-round-trip'),
  steering: $('generate-steering'),
  object: $('generate-object'),
  buttons: document.querySelectorAll('[data-steer]'),
};

const KEYS = { ArrowLeft: 'left', ArrowRight: 'right', ArrowUp: 'up', ArrowDown: 'down' };
/** A drag steers once the pointer is this many CSS pixels from where it went down. */
const DRAG_DEAD_ZONE_PX = 8;
/** Latencies kept for the median shown (and the hook): the last ones only, bounded. */
const KEEP = 100;

const median = (xs) => {
  if (xs.length === 0) return null;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
};

/**
 * The mode's state and controls; `send(message)` puts a JSON message on the session's data
 * channel (false when none is open).
 */
export function createGenerateView(send) {
  const view = {
    /** The server's `generate` event: { scenes, scene, fps, width, height }; null before it. */
    info: null,
    scene: null,
    /** What the object is being steered to do now: 'stop' | 'left' | 'right' | 'up' | 'down'. */
    steering: 'stop',
    /** Frames presented by the <video> since the session started, and per second over the last second. */
    framesShown: 0,
    fps: null,
    /** Each `steered` event: { command, latencyMs (server: arrival to frame out), roundTripMs (page: sent to event back) }. */
    steers: [],
    steer,
    setScene,
    brightSpot,
  };
  let frameTimes = [];
  let callbackId = null;

  function reset() {
    Object.assign(view, { info: null, scene: null, steering: 'stop', framesShown: 0, fps: null, steers: [] });
    frameTimes = [];
    ui.scene.replaceChildren();
    for (const el of [ui.fps, ui.latency, ui.roundTrip, ui.object]) el.textContent = '–';
    ui.steering.textContent = 'stop';
  }

  function steer(command) {
    view.steering = command;
    ui.steering.textContent = command;
    return send({ type: 'steer', command, t: performance.now() });
  }

  function setScene(name) {
    ui.scene.value = name;
    return send({ type: 'scene', scene: name, t: performance.now() });
  }

  /** Counts presented frames (requestVideoFrameCallback: frames the compositor showed, not just decoded). */
  function onFrame(now) {
    view.framesShown++;
    frameTimes.push(now);
    while (frameTimes.length > 0 && frameTimes[0] < now - 1000) frameTimes.shift();
    view.fps = frameTimes.length;
    ui.fps.textContent = String(view.fps);
    callbackId = ui.video.requestVideoFrameCallback(onFrame);
  }

  /**
   * Where the object is in the frame shown now: the centroid of the pixels within 15% of the
   * brightest luma (in the default scenes the object is the lightest thing), in video pixels,
   * and the frame's mean colour ([r, g, b], 0-255); null when no frame is shown yet.
   */
  function brightSpot() {
    const v = ui.video;
    if (!v.videoWidth) return null;
    const c = document.createElement('canvas');
    c.width = v.videoWidth;
    c.height = v.videoHeight;
    const g = c.getContext('2d', { willReadFrequently: true });
    g.drawImage(v, 0, 0);
    const d = g.getImageData(0, 0, c.width, c.height).data;
    let max = 0;
    const luma = new Float32Array(c.width * c.height);
    for (let i = 0; i < luma.length; i++) {
      luma[i] = 0.299 * d[i * 4] + 0.587 * d[i * 4 + 1] + 0.114 * d[i * 4 + 2];
      if (luma[i] > max) max = luma[i];
    }
    let n = 0;
    let sx = 0;
    let sy = 0;
    const mean = [0, 0, 0];
    for (let i = 0; i < luma.length; i++) {
      for (let k = 0; k < 3; k++) mean[k] += d[i * 4 + k] / luma.length;
      if (luma[i] < max * 0.85) continue;
      n++;
      sx += i % c.width;
      sy += Math.floor(i / c.width);
    }
    const spot = { x: sx / n, y: sy / n, luma: max, mean };
    ui.object.textContent = `${spot.x.toFixed(0)}, ${spot.y.toFixed(0)}`;
    return spot;
  }

  function onMessage(msg) {
    if (msg.type === 'generate') {
      view.info = msg;
      view.scene = msg.scene;
      const names = Array.isArray(msg.scenes) ? msg.scenes : [];
      ui.scene.replaceChildren(
        ...names.map((name) => {
          const o = document.createElement('option');
          o.value = o.textContent = String(name);
          return o;
        }),
      );
      ui.scene.value = msg.scene;
    } else if (msg.type === 'steered') {
      const roundTripMs = typeof msg.t === 'number' ? performance.now() - msg.t : null;
      view.steers.push({ command: msg.command ?? null, latencyMs: msg.latencyMs, roundTripMs });
      if (view.steers.length > KEEP) view.steers.shift();
      const server = median(view.steers.map((s) => s.latencyMs));
      const trip = median(view.steers.map((s) => s.roundTripMs).filter((x) => x !== null));
      ui.latency.textContent = server === null ? '–' : `${server.toFixed(0)} ms (median of ${view.steers.length})`;
      ui.roundTrip.textContent = trip === null ? '–' : `${trip.toFixed(0)} ms`;
    } else if (msg.type === 'scene') {
      view.scene = msg.scene;
      ui.scene.value = msg.scene;
    }
  }

  /** The session's video track arrived: show it, count its frames. */
  function attach(track) {
    ui.video.srcObject = new MediaStream([track]);
    ui.video.play().catch(() => {});
    if (callbackId === null && 'requestVideoFrameCallback' in ui.video) callbackId = ui.video.requestVideoFrameCallback(onFrame);
  }

  function detach() {
    if (callbackId !== null) ui.video.cancelVideoFrameCallback(callbackId);
    callbackId = null;
    ui.video.srcObject = null;
  }

  function show(on) {
    ui.panel.hidden = !on;
    document.body.dataset.mode = on ? 'generate' : 'listen';
  }

  // Keys: an arrow steers while it is held (key repeat ignored), letting go stops.
  const held = [];
  ui.video.addEventListener('keydown', (e) => {
    const cmd = KEYS[e.key];
    if (!cmd) return;
    e.preventDefault();
    if (e.repeat || held.includes(cmd)) return;
    held.push(cmd);
    steer(cmd);
  });
  ui.video.addEventListener('keyup', (e) => {
    const cmd = KEYS[e.key];
    if (!cmd) return;
    const at = held.indexOf(cmd);
    if (at < 0) return; // pressed before the video had focus
    held.splice(at, 1);
    steer(held.at(-1) ?? 'stop');
  });
  ui.video.addEventListener('blur', () => {
    if (held.length === 0) return;
    held.length = 0;
    steer('stop');
  });
  // Drag: the direction from where the pointer went down (the larger axis), stop on release.
  let down = null;
  ui.video.addEventListener('pointerdown', (e) => {
    down = { x: e.clientX, y: e.clientY };
    ui.video.setPointerCapture(e.pointerId);
    ui.video.focus();
  });
  ui.video.addEventListener('pointermove', (e) => {
    if (!down) return;
    const dx = e.clientX - down.x;
    const dy = e.clientY - down.y;
    if (Math.hypot(dx, dy) < DRAG_DEAD_ZONE_PX) return;
    const cmd = Math.abs(dx) > Math.abs(dy) ? (dx > 0 ? 'right' : 'left') : dy > 0 ? 'down' : 'up';
    if (cmd !== view.steering) steer(cmd);
  });
  const release = () => {
    if (!down) return;
    down = null;
    steer('stop');
  };
  ui.video.addEventListener('pointerup', release);
  ui.video.addEventListener('pointercancel', release);
  for (const b of ui.buttons) b.addEventListener('click', () => steer(b.dataset.steer));
  ui.scene.addEventListener('change', () => setScene(ui.scene.value));

  return { view, reset, onMessage, attach, detach, show };
}

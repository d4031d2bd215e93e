// Causeway example page: microphone (and camera) -> WHIP (RFC 9725) -> processed audio, video and
// JSON events back. Plain ES module, no build step, nothing loaded from other origins.
//
// Test hook: window.causeway (see README.md). Everything the page shows is also readable there.

import { createGenerateView } from './generate.js';
import { createHook, installHook } from './test-hook.js';
import { authHeaders, fetchWithTimeout, reasonOf, waitForIceGathering, withStereoOpus } from './whip-client.js';

const $ = (id) => /** @type {any} */ (document.getElementById(id));

const ui = {
  start: $('start'),
  stop: $('stop'),
  mode: $('mode'),
  camera: $('camera'),
  token: $('token'),
  error: $('error'),
  state: $('state'),
  conn: $('conn'),
  rtt: $('rtt'),
  session: $('session'),
  declared: $('declared'),
  micMeter: $('mic-meter'),
  outMeter: $('out-meter'),
  outLeftMeter: $('out-left-meter'),
  outRightMeter: $('out-right-meter'),
  posPad: $('pos-pad'),
  posDot: $('pos-dot'),
  posAzimuth: $('pos-azimuth'),
  posElevation: $('pos-elevation'),
  posDistance: $('pos-distance'),
  posSent: $('pos-sent'),
  posElevationSlider: $('pos-elevation-slider'),
  remoteAudio: $('remote-audio'),
  localVideo: $('local-video'),
  localVideoFig: $('local-video-fig'),
  remoteVideo: $('remote-video'),
  remoteVideoFig: $('remote-video-fig'),
  events: $('events'),
  eventCount: $('event-count'),
  captions: $('captions'),
  captionHint: $('caption-hint'),
  captionLines: $('caption-lines'),
  captionPartial: $('caption-partial'),
  captionCount: $('caption-count'),
};

/** Options of start(); any of them may be overridden by the caller. */
const DEFAULTS = Object.freeze({
  /** 'listen' (the server's default pipeline: captions, binaural return) or 'generate' (the
   *  video-world model's frames, steered from the page: POST /whip?pipeline=generate). */
  mode: 'listen',
  whipUrl: '/whip',
  camera: false,
  token: '',
  /** Browser voice processing: echo cancellation stays on (we play the returned audio), the rest
   *  is off so the models hear the microphone as it is. */
  audio: { echoCancellation: true, noiseSuppression: false, autoGainControl: false },
  video: { width: { ideal: 640 }, height: { ideal: 480 }, frameRate: { ideal: 30 } },
  iceServers: [],
  /** Non-trickle WHIP: the offer is sent once gathering completes, or after this long. */
  iceGatheringTimeoutMs: 2000,
  requestTimeoutMs: 10000,
  /** start() resolves when the peer connection is connected, or fails after this long. */
  connectTimeoutMs: 15000,
  pingIntervalMs: 1000,
  /** Ask for the returned audio in stereo (`stereo=1` in the offer's Opus fmtp), which the server's
   *  binaural return needs to reach both ears apart. */
  stereoReturn: true,
  /** A MediaStream to send instead of asking getUserMedia: its first audio track is the
   *  microphone, its first video track (if any) the camera. The caller owns it: stop() leaves its
   *  tracks running. Tests and benchmarks pass a WebAudio graph (MediaStreamAudioDestinationNode). */
  stream: null,
});

const MAX_RENDERED_EVENTS = 200;
/** Position messages go out at most this often while the dot is dragged (the last one always goes). */
const POSITION_INTERVAL_MS = 50;
/** The pad's scale: SVG units per metre (rings at 1, 2, 3 m), and the distances it offers. */
const PAD_UNITS_PER_M = 36;
const MIN_DISTANCE_M = 0.3;
const MAX_DISTANCE_M = 3;
const MAX_RENDERED_CAPTIONS = 200;
/** Caption lines shown since the last clear (the page and the hook keep the last MAX_RENDERED_CAPTIONS). */
let captionTotal = 0;

class Aborted extends Error {
  constructor() {
    super('stopped');
    this.name = 'Aborted';
  }
}

/** The session being started or running; null when idle. */
let current = null;

const hook = createHook({ start, stop, stats, send, setPosition, channelLevels });
const gen = createGenerateView(send);
hook.generate = gen.view;
installHook(hook);

// ---------------------------------------------------------------------------------- UI state

function setState(state) {
  hook.state = state;
  ui.state.textContent = state;
  ui.state.dataset.state = state;
  const idle = state === 'idle';
  ui.start.disabled = !idle;
  ui.stop.disabled = idle || state === 'stopping';
  ui.camera.disabled = !idle;
  ui.mode.disabled = !idle;
  ui.token.disabled = !idle;
}

function setError(message) {
  hook.error = message;
  ui.error.textContent = message ?? '';
}

function setConnection(text) {
  ui.conn.textContent = text;
}

function showRtt(ms) {
  hook.rttMs = ms;
  ui.rtt.textContent = ms === null ? '–' : `${ms.toFixed(1)} ms`;
}

/** The pipeline's declared latency per output, e.g. "audio 2.67 ms, events 1010 ms". */
function showDeclared(msg) {
  hook.pipeline = msg;
  const parts = msg && typeof msg.latencyMs === 'object' ? Object.entries(msg.latencyMs).map(([k, v]) => `${k} ${v} ms`) : [];
  ui.declared.textContent = parts.length > 0 ? parts.join(', ') : '–';
}

function showSession(url) {
  hook.sessionUrl = url;
  ui.session.textContent = url ?? '–';
}

// ---------------------------------------------------------------------------------- events list

function clearEvents() {
  hook.events = [];
  hook.log = [];
  hook.invalidMessages = 0;
  ui.events.replaceChildren(emptyItem());
  ui.eventCount.textContent = '';
  hook.captions = [];
  captionTotal = 0;
  hook.partial = '';
  ui.captionLines.replaceChildren();
  ui.captionPartial.textContent = '';
  ui.captionCount.textContent = '';
  ui.captionHint.hidden = false;
}

function emptyItem() {
  const li = document.createElement('li');
  li.className = 'empty';
  li.textContent = 'No events yet.';
  return li;
}

const seconds = (us) => (typeof us === 'number' ? (us / 1e6).toFixed(3) : '?');

function describe(msg) {
  switch (msg.type) {
    case 'speech-start':
    case 'speech-end':
      return `${seconds(msg.startUs)} – ${seconds(msg.endUs)} s`;
    case 'partial':
    case 'final':
      return String(msg.text ?? '');
    case 'error':
      return String(msg.message ?? '');
    default: {
      const { type: _type, ...rest } = msg;
      return JSON.stringify(rest);
    }
  }
}

function clock(ms) {
  const d = new Date(ms);
  const p = (n, w = 2) => String(n).padStart(w, '0');
  return `${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}.${p(d.getMilliseconds(), 3)}`;
}

function renderEvent(msg, receivedWallMs, latencyMs) {
  const li = document.createElement('li');
  if (msg.type === 'error') li.className = 'error';
  const cells = [clock(receivedWallMs), msg.type, describe(msg), latencyMs === null ? '' : `${Math.round(latencyMs)} ms`];
  for (const [i, text] of cells.entries()) {
    const span = document.createElement('span');
    span.textContent = text;
    if (i === 3) {
      span.className = 'lat';
      span.title = 'latency: now - wallMs of the event';
    }
    li.append(span);
  }
  const first = ui.events.firstElementChild;
  if (first?.classList.contains('empty')) first.remove();
  ui.events.prepend(li);
  while (ui.events.childElementCount > MAX_RENDERED_EVENTS) ui.events.lastElementChild.remove();
  ui.eventCount.textContent = `(${hook.log.filter((e) => e.message.type !== 'pong').length})`;
}

// ---------------------------------------------------------------------------------- captions

/** `partial`: the growing hypothesis, shown lighter; `final`: appended as a line, partial cleared. */
function onCaption(msg, receivedWallMs, latencyMs) {
  const text = typeof msg.text === 'string' ? msg.text : '';
  if (msg.type === 'partial') {
    hook.partial = text;
    ui.captionPartial.textContent = text;
  } else {
    hook.partial = '';
    ui.captionPartial.textContent = '';
    if (text === '') return; // a final of pieces that spell nothing: no line
    // The hook keeps what the page shows (the last MAX_RENDERED_CAPTIONS lines): bounded over hours.
    hook.captions.push({ text, startUs: msg.startUs, endUs: msg.endUs, receivedWallMs, latencyMs });
    if (hook.captions.length > MAX_RENDERED_CAPTIONS) hook.captions.shift();
    captionTotal++;
    const li = document.createElement('li');
    li.className = 'final';
    li.textContent = text;
    li.title = `${seconds(msg.startUs)} – ${seconds(msg.endUs)} s${latencyMs === null ? '' : `, ${Math.round(latencyMs)} ms after the audio that ended it`}`;
    ui.captionLines.append(li);
    while (ui.captionLines.childElementCount > MAX_RENDERED_CAPTIONS) ui.captionLines.firstElementChild.remove();
    ui.captionCount.textContent = `(${captionTotal})`;
  }
  ui.captionHint.hidden = true;
  ui.captions.scrollTop = ui.captions.scrollHeight;
}

function onMessage(s, data) {
  let msg;
  try {
    msg = typeof data === 'string' ? JSON.parse(data) : null;
  } catch {
    msg = null;
  }
  if (msg === null || typeof msg !== 'object' || Array.isArray(msg) || typeof msg.type !== 'string') {
    hook.invalidMessages++;
    setError(`the server sent a message that is not a JSON event: ${String(data).slice(0, 80)}`);
    return;
  }
  const receivedWallMs = Date.now();
  const latencyMs = typeof msg.wallMs === 'number' ? receivedWallMs - msg.wallMs : null;
  hook.events.push(msg);
  hook.log.push({ message: msg, receivedWallMs, latencyMs });
  if (msg.type === 'pong') {
    if (typeof msg.t === 'number') showRtt(performance.now() - msg.t);
    return;
  }
  if (msg.type === 'error') setError(`server: ${msg.message ?? 'error'}`);
  if (msg.type === 'pipeline') showDeclared(msg);
  if (msg.type === 'partial' || msg.type === 'final') onCaption(msg, receivedWallMs, latencyMs);
  if (s.generating) gen.onMessage(msg);
  renderEvent(msg, receivedWallMs, latencyMs);
}

// ---------------------------------------------------------------------------------- audio meters

function makeAnalyser(ctx, track) {
  const analyser = ctx.createAnalyser();
  analyser.fftSize = 2048;
  const source = ctx.createMediaStreamSource(new MediaStream([track]));
  source.connect(analyser);
  return { analyser, source, buf: new Float32Array(analyser.fftSize) };
}

/** RMS of the last fftSize samples, 0..1. */
function rms(a) {
  if (!a) return null;
  a.analyser.getFloatTimeDomainData(a.buf);
  let e = 0;
  for (let i = 0; i < a.buf.length; i++) e += a.buf[i] * a.buf[i];
  return Math.sqrt(e / a.buf.length);
}

/** Meter width: -60 dBFS .. 0 dBFS. */
function meterPercent(level) {
  if (!level) return 0;
  const db = 20 * Math.log10(level);
  return Math.max(0, Math.min(100, ((db + 60) / 60) * 100));
}

function updateMeters() {
  const s = current;
  ui.micMeter.style.width = `${meterPercent(s ? rms(s.micAnalyser) : 0)}%`;
  ui.outMeter.style.width = `${meterPercent(s ? rms(s.remoteAnalyser) : 0)}%`;
  const { left, right } = channelLevels();
  ui.outLeftMeter.style.width = `${meterPercent(left ?? 0)}%`;
  ui.outRightMeter.style.width = `${meterPercent(right ?? 0)}%`;
}

/** The returned audio split into its two channels, each into an analyser (for the L/R meters and tests). */
function makeChannelAnalysers(ctx, track) {
  const source = ctx.createMediaStreamSource(new MediaStream([track]));
  const splitter = ctx.createChannelSplitter(2);
  source.connect(splitter);
  const side = (i) => {
    const analyser = ctx.createAnalyser();
    analyser.fftSize = 2048;
    splitter.connect(analyser, i);
    return { analyser, source, buf: new Float32Array(analyser.fftSize) };
  };
  return { source, left: side(0), right: side(1) };
}

/** RMS (0..1) of the last 2048 samples of each channel of the returned audio; nulls when none. */
function channelLevels() {
  const c = current?.remoteChannels;
  return { left: c ? rms(c.left) : null, right: c ? rms(c.right) : null };
}

// ---------------------------------------------------------------------------------- voice position

const round = (v, digits) => Math.round(v * 10 ** digits) / 10 ** digits;
let positionTimer = null;
/** Position messages the test hook remembers (the latest). */
const MAX_POSITIONS_KEPT = 200;
let lastPositionSentMs = -Infinity;

function describePosition(p) {
  const az = Math.round(p.azimuth) % 360;
  const side = az === 0 ? 'in front' : az === 180 ? 'behind' : az < 180 ? `${az}° to the left` : `${360 - az}° to the right`;
  return `${side}, ${p.elevation ? `${Math.round(Math.abs(p.elevation))}° ${p.elevation > 0 ? 'up' : 'down'}, ` : ''}${p.distance.toFixed(1)} m`;
}

function renderPosition() {
  const p = hook.position;
  const r = p.distance * PAD_UNITS_PER_M;
  const a = (p.azimuth * Math.PI) / 180;
  ui.posDot.setAttribute('cx', String(round(-r * Math.sin(a), 2)));
  ui.posDot.setAttribute('cy', String(round(-r * Math.cos(a), 2)));
  ui.posAzimuth.textContent = `${Math.round(p.azimuth)}°`;
  ui.posElevation.textContent = `${Math.round(p.elevation)}°`;
  ui.posDistance.textContent = `${p.distance.toFixed(2)} m`;
  ui.posElevationSlider.value = String(Math.round(p.elevation));
  ui.posPad.setAttribute('aria-valuetext', describePosition(p));
}

/**
 * Moves the voice: any of { azimuth (degrees, wrapped into 0..360), elevation (-90..90),
 * distance (0.3..3 m) }; the rest keep their value. Shown at once; sent to the server at most
 * every 50 ms (the latest position always goes). Returns the position now shown.
 */
function setPosition(p = {}) {
  const cur = hook.position;
  const num = (v, fallback) => (typeof v === 'number' && Number.isFinite(v) ? v : fallback);
  hook.position = {
    azimuth: round((((num(p.azimuth, cur.azimuth) % 360) + 360) % 360), 1) % 360,
    elevation: round(Math.min(90, Math.max(-90, num(p.elevation, cur.elevation))), 1),
    distance: round(Math.min(MAX_DISTANCE_M, Math.max(MIN_DISTANCE_M, num(p.distance, cur.distance))), 2),
  };
  renderPosition();
  schedulePositionSend();
  return { ...hook.position };
}

function schedulePositionSend() {
  if (positionTimer !== null) return; // the pending send will take the latest position
  const wait = lastPositionSentMs + POSITION_INTERVAL_MS - performance.now();
  if (wait <= 0) sendPosition();
  else positionTimer = setTimeout(sendPosition, wait);
}

function sendPosition() {
  clearTimeout(positionTimer);
  positionTimer = null;
  const msg = { type: 'position', ...hook.position };
  if (!send(msg)) return; // not connected: the position goes when the data channel opens
  lastPositionSentMs = performance.now();
  hook.positionsSent.push({ azimuth: msg.azimuth, elevation: msg.elevation, distance: msg.distance, sentMs: lastPositionSentMs });
  if (hook.positionsSent.length > MAX_POSITIONS_KEPT) hook.positionsSent.shift();
  ui.posSent.textContent = describePosition(hook.position);
}

/** The pad: the listener at the centre facing up; the angle of the pointer is the azimuth, its radius the distance. */
function padPosition(e) {
  const rect = ui.posPad.getBoundingClientRect();
  const vb = ui.posPad.viewBox.baseVal;
  const x = vb.x + ((e.clientX - rect.left) / rect.width) * vb.width;
  const y = vb.y + ((e.clientY - rect.top) / rect.height) * vb.height;
  return { azimuth: (Math.atan2(-x, -y) * 180) / Math.PI, distance: Math.hypot(x, y) / PAD_UNITS_PER_M };
}

function wirePositionPad() {
  let dragging = null;
  ui.posPad.addEventListener('pointerdown', (e) => {
    dragging = e.pointerId;
    ui.posPad.setPointerCapture(e.pointerId);
    setPosition(padPosition(e));
    e.preventDefault();
  });
  ui.posPad.addEventListener('pointermove', (e) => {
    if (dragging === e.pointerId) setPosition(padPosition(e));
  });
  const end = (e) => {
    if (dragging !== e.pointerId) return;
    dragging = null;
    setPosition(padPosition(e));
  };
  ui.posPad.addEventListener('pointerup', end);
  ui.posPad.addEventListener('pointercancel', () => {
    dragging = null;
  });
  // Keyboard: arrows turn (left/right, 5°) and move nearer/further (up/down, 0.1 m).
  ui.posPad.addEventListener('keydown', (e) => {
    const p = hook.position;
    const step = { ArrowLeft: { azimuth: p.azimuth + 5 }, ArrowRight: { azimuth: p.azimuth - 5 }, ArrowUp: { distance: p.distance - 0.1 }, ArrowDown: { distance: p.distance + 0.1 } }[e.key];
    if (step) {
      setPosition(step);
      e.preventDefault();
    }
  });
  ui.posElevationSlider.addEventListener('input', () => setPosition({ elevation: Number(ui.posElevationSlider.value) }));
  renderPosition();
}

// ---------------------------------------------------------------------------------- session

function checkCurrent(s) {
  if (current !== s) throw new Aborted();
}

function mediaError(e, camera) {
  const what = camera ? 'microphone or camera' : 'microphone';
  switch (e?.name) {
    case 'NotAllowedError':
      return `permission to use the ${what} was denied`;
    case 'NotFoundError':
      return `no ${what} found`;
    case 'NotReadableError':
      return `the ${what} is in use or unreadable`;
    default:
      return `cannot open the ${what}: ${e?.name ?? 'Error'}: ${e?.message ?? String(e)}`;
  }
}

function waitForConnected(s, timeoutMs) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      s.onConnected = null;
      reject(new Error(`no WebRTC connection within ${timeoutMs / 1000} s (ICE ${s.pc?.iceConnectionState ?? 'closed'})`));
    }, timeoutMs);
    s.onConnected = (err) => {
      clearTimeout(timer);
      s.onConnected = null;
      if (err) reject(err);
      else resolve();
    };
    if (s.pc?.connectionState === 'connected') s.onConnected(null);
  });
}

function wirePeer(s) {
  const pc = s.pc;
  pc.addEventListener('connectionstatechange', () => {
    if (current !== s) return;
    hook.connectionState = pc.connectionState;
    setConnection(`${pc.connectionState} (ICE ${pc.iceConnectionState})`);
    if (pc.connectionState === 'connected') {
      if (hook.state === 'connecting') setState('connected');
      s.onConnected?.(null);
    } else if (pc.connectionState === 'failed') {
      const err = new Error('the WebRTC connection failed');
      if (s.onConnected) s.onConnected(err);
      else void endSession(s, err.message);
    }
  });
  pc.addEventListener('iceconnectionstatechange', () => {
    if (current === s) setConnection(`${pc.connectionState} (ICE ${pc.iceConnectionState})`);
  });
  pc.addEventListener('track', (e) => {
    if (current !== s) return;
    const track = e.track;
    if (track.kind === 'audio') {
      ui.remoteAudio.srcObject = new MediaStream([track]);
      ui.remoteAudio.play().catch(() => {
        // Autoplay refused: the controls of the <audio> element let the user start it.
      });
      if (s.audioCtx) {
        s.remoteAnalyser = makeAnalyser(s.audioCtx, track);
        s.remoteChannels = makeChannelAnalysers(s.audioCtx, track);
      }
    } else if (track.kind === 'video' && s.generating) {
      gen.attach(track);
    } else if (track.kind === 'video') {
      ui.remoteVideo.srcObject = new MediaStream([track]);
      ui.remoteVideoFig.hidden = false;
      ui.remoteVideo.play().catch(() => {});
    }
  });
}

function wireDataChannel(s) {
  const dc = s.dc;
  dc.addEventListener('open', () => {
    if (current !== s) return;
    const ping = () => {
      if (dc.readyState === 'open') dc.send(JSON.stringify({ type: 'ping', t: performance.now() }));
    };
    ping();
    s.pingTimer = setInterval(ping, s.opts.pingIntervalMs);
    // The server starts the voice in front at 1 m: tell it where the page has it.
    if (s.generating) return;
    lastPositionSentMs = -Infinity;
    sendPosition();
  });
  dc.addEventListener('message', (e) => {
    if (current === s) onMessage(s, e.data);
  });
  dc.addEventListener('close', () => {
    if (current === s && hook.state === 'connected') void endSession(s, 'the server closed the session');
  });
}

/**
 * Starts a session. Resolves with { sessionUrl } once the peer connection is connected; rejects
 * with the reason shown on the page (the page is then idle again).
 */
async function start(options = {}) {
  if (hook.state !== 'idle') throw new Error(`cannot start: the page is ${hook.state}`);
  const opts = { ...DEFAULTS, mode: ui.mode.value, camera: ui.camera.checked, token: ui.token.value.trim(), ...options };
  if (opts.mode !== 'listen' && opts.mode !== 'generate') throw new Error(`mode must be 'listen' or 'generate', got '${opts.mode}'`);
  const generating = opts.mode === 'generate';
  const whipUrl = new URL(opts.whipUrl, location.href);
  if (generating) whipUrl.searchParams.set('pipeline', 'generate');
  const s = {
    opts,
    token: opts.token,
    whipUrl: whipUrl.href,
    generating,
    stream: null,
    /** Whether the page opened s.stream (and so stops its tracks) or the caller passed it. */
    ownStream: false,
    pc: null,
    dc: null,
    audioCtx: null,
    /** Generate mode: the AudioContext whose silent track goes up instead of a microphone. */
    silence: null,
    micAnalyser: null,
    remoteAnalyser: null,
    remoteChannels: null,
    pingTimer: null,
    meterTimer: null,
    sessionUrl: null,
    deleted: false,
    onConnected: null,
  };
  current = s;
  ui.camera.checked = Boolean(opts.camera);
  ui.mode.value = opts.mode;
  gen.show(generating);
  gen.reset();
  clearEvents();
  hook.positionsSent = [];
  ui.posSent.textContent = '–';
  setError(null);
  showRtt(null);
  showSession(null);
  showDeclared(null);
  hook.offer = null;
  hook.answer = null;
  hook.connectionState = 'new';
  setConnection('–');
  setState('starting');
  try {
    if (opts.stream) {
      s.stream = opts.stream;
    } else if (generating) {
      // WHIP needs an audio track going up (and the server takes a client that sends no RTP as
      // gone): a silent one, no microphone asked for.
      s.silence = new AudioContext();
      if (s.silence.state === 'suspended') s.silence.resume().catch(() => {});
      // A destination with nothing connected renders nothing and chromium sends no RTP at all:
      // a source must play into it, at zero gain.
      const dest = s.silence.createMediaStreamDestination();
      const quiet = s.silence.createGain();
      quiet.gain.value = 0;
      const tone = s.silence.createOscillator();
      tone.connect(quiet).connect(dest);
      tone.start();
      s.stream = dest.stream;
      s.ownStream = true;
    } else {
      if (!navigator.mediaDevices?.getUserMedia) {
        throw new Error('this page needs a secure context (https, or http://localhost) to use the microphone');
      }
      try {
        s.stream = await navigator.mediaDevices.getUserMedia({ audio: opts.audio, video: opts.camera ? opts.video : false });
      } catch (e) {
        throw new Error(mediaError(e, opts.camera));
      }
      s.ownStream = true;
      checkCurrent(s);
    }

    const AudioCtx = window.AudioContext;
    if (AudioCtx) {
      s.audioCtx = new AudioCtx();
      if (s.audioCtx.state === 'suspended') s.audioCtx.resume().catch(() => {});
      const micTrack = s.stream.getAudioTracks()[0];
      if (micTrack) s.micAnalyser = makeAnalyser(s.audioCtx, micTrack);
      s.meterTimer = setInterval(updateMeters, 100);
    }
    const videoTrack = s.stream.getVideoTracks()[0];
    if (videoTrack) {
      ui.localVideo.srcObject = new MediaStream([videoTrack]);
      ui.localVideoFig.hidden = false;
      ui.localVideo.play().catch(() => {});
    }

    s.pc = new RTCPeerConnection({ iceServers: opts.iceServers });
    wirePeer(s);
    // The data channel must exist before the offer so that the offer has its m=application section.
    s.dc = s.pc.createDataChannel('causeway');
    wireDataChannel(s);
    const audioTrack = s.stream.getAudioTracks()[0];
    if (!audioTrack) throw new Error('the microphone gave no audio track');
    s.pc.addTransceiver(audioTrack, { direction: 'sendrecv', streams: [s.stream] });
    if (videoTrack && !generating) s.pc.addTransceiver(videoTrack, { direction: 'sendrecv', streams: [s.stream] });
    if (generating) s.pc.addTransceiver('video', { direction: 'recvonly' });

    const offer0 = await s.pc.createOffer();
    await s.pc.setLocalDescription(opts.stereoReturn ? { type: 'offer', sdp: withStereoOpus(offer0.sdp) } : offer0);
    checkCurrent(s);
    setConnection('gathering ICE candidates');
    await waitForIceGathering(s.pc, opts.iceGatheringTimeoutMs);
    checkCurrent(s);
    const offer = s.pc.localDescription.sdp;
    hook.offer = offer;

    setConnection(`sending offer to ${s.whipUrl}`);
    const res = await fetchWithTimeout(
      s.whipUrl,
      { method: 'POST', headers: { 'Content-Type': 'application/sdp', ...authHeaders(s) }, body: offer },
      opts.requestTimeoutMs,
    );
    if (!res.ok) throw new Error(await reasonOf(res));
    const location_ = res.headers.get('Location');
    if (location_) s.sessionUrl = new URL(location_, s.whipUrl).href;
    checkCurrent(s);
    if (!location_) throw new Error(`the server answered ${res.status} without a Location header`);
    showSession(s.sessionUrl);
    const answer = await res.text();
    checkCurrent(s);
    hook.answer = answer;
    try {
      await s.pc.setRemoteDescription({ type: 'answer', sdp: answer });
    } catch (e) {
      throw new Error(`the server's SDP answer was refused: ${e instanceof Error ? e.message : String(e)}`);
    }
    checkCurrent(s);
    setState('connecting');
    await waitForConnected(s, opts.connectTimeoutMs);
    checkCurrent(s);
    if (hook.state === 'connecting') setState('connected');
    return { sessionUrl: s.sessionUrl };
  } catch (e) {
    if (e instanceof Aborted || current !== s) {
      await release(s); // stop() ran meanwhile: release whatever arrived after it
      throw new Aborted();
    }
    const message = e instanceof Error ? e.message : String(e);
    await endSession(s, message);
    throw new Error(message);
  }
}

/** Ends session s (if still current) with an error shown on the page. */
async function endSession(s, message) {
  if (current !== s) return;
  current = null;
  setError(message);
  setState('stopping');
  await release(s);
  setState('idle');
}

/** Stops the current session: DELETE its resource, close the peer, release the devices. */
async function stop() {
  const s = current;
  if (!s) return;
  current = null;
  setState('stopping');
  await release(s);
  setState('idle');
}

/** Frees everything session s holds; safe to call more than once. */
async function release(s) {
  clearTimeout(positionTimer);
  positionTimer = null;
  clearInterval(s.pingTimer);
  clearInterval(s.meterTimer);
  s.pingTimer = s.meterTimer = null;
  s.onConnected?.(new Aborted());
  const del = s.sessionUrl && !s.deleted ? deleteSession(s) : Promise.resolve();
  s.deleted = true;
  if (s.dc) {
    try {
      s.dc.close();
    } catch {
      // already closed
    }
  }
  if (s.pc) {
    hook.connectionState = 'closed';
    s.pc.close();
  }
  if (s.ownStream) for (const t of s.stream?.getTracks() ?? []) t.stop();
  for (const a of [s.micAnalyser, s.remoteAnalyser, s.remoteChannels]) a?.source.disconnect();
  s.micAnalyser = s.remoteAnalyser = s.remoteChannels = null;
  for (const ctx of [s.audioCtx, s.silence]) if (ctx && ctx.state !== 'closed') ctx.close().catch(() => {});
  s.audioCtx = s.silence = null;
  if (current === null) {
    for (const el of [ui.remoteAudio, ui.localVideo, ui.remoteVideo]) el.srcObject = null;
    gen.detach();
    ui.localVideoFig.hidden = true;
    ui.remoteVideoFig.hidden = true;
    setConnection(s.pc ? 'closed' : '–');
    updateMeters();
  }
  await del;
}

async function deleteSession(s) {
  try {
    const res = await fetchWithTimeout(s.sessionUrl, { method: 'DELETE', headers: authHeaders(s) }, 3000);
    hook.deleteStatus = res.status;
  } catch {
    hook.deleteStatus = 0;
  }
}

/** Sends a JSON message on the data channel; false when it is not open. */
function send(message) {
  const dc = current?.dc;
  if (!dc || dc.readyState !== 'open') return false;
  dc.send(JSON.stringify(message));
  return true;
}

/** Counters from getStats() plus the analyser levels (RMS 0..1) of the mic and returned audio. */
async function stats() {
  const s = current;
  const out = {
    state: hook.state,
    connectionState: hook.connectionState,
    dataChannelRttMs: hook.rttMs,
    inboundAudioBytes: 0,
    inboundAudioPackets: 0,
    inboundAudioPacketsLost: 0,
    inboundAudioJitter: null,
    inboundAudioLevel: null,
    inboundAudioEnergy: null,
    inboundAudioSamplesDuration: null,
    inboundAudioCodec: null,
    outboundAudioBytes: 0,
    outboundAudioPackets: 0,
    outboundAudioCodec: null,
    micAudioLevel: null,
    micAudioEnergy: null,
    inboundVideoBytes: 0,
    inboundVideoFramesDecoded: 0,
    inboundVideoWidth: null,
    inboundVideoHeight: null,
    outboundVideoBytes: 0,
    outboundVideoFramesEncoded: 0,
    iceRttMs: null,
    micAnalyserLevel: s ? rms(s.micAnalyser) : null,
    remoteAnalyserLevel: s ? rms(s.remoteAnalyser) : null,
    remoteLeftLevel: s ? rms(s.remoteChannels?.left) : null,
    remoteRightLevel: s ? rms(s.remoteChannels?.right) : null,
  };
  if (!s?.pc || s.pc.signalingState === 'closed') return out;
  const report = await s.pc.getStats();
  const codecOf = (st) => {
    const c = st.codecId ? report.get(st.codecId) : undefined;
    return c ? `${c.mimeType}/${c.clockRate}${c.channels ? '/' + c.channels : ''}` : null;
  };
  for (const st of report.values()) {
    if (st.type === 'inbound-rtp' && st.kind === 'audio') {
      out.inboundAudioBytes += st.bytesReceived ?? 0;
      out.inboundAudioPackets += st.packetsReceived ?? 0;
      out.inboundAudioPacketsLost += st.packetsLost ?? 0;
      out.inboundAudioJitter = st.jitter ?? null;
      out.inboundAudioLevel = st.audioLevel ?? null;
      out.inboundAudioEnergy = st.totalAudioEnergy ?? null;
      out.inboundAudioSamplesDuration = st.totalSamplesDuration ?? null;
      out.inboundAudioCodec = codecOf(st);
    } else if (st.type === 'outbound-rtp' && st.kind === 'audio') {
      out.outboundAudioBytes += st.bytesSent ?? 0;
      out.outboundAudioPackets += st.packetsSent ?? 0;
      out.outboundAudioCodec = codecOf(st);
    } else if (st.type === 'media-source' && st.kind === 'audio') {
      out.micAudioLevel = st.audioLevel ?? null;
      out.micAudioEnergy = st.totalAudioEnergy ?? null;
    } else if (st.type === 'inbound-rtp' && st.kind === 'video') {
      out.inboundVideoBytes += st.bytesReceived ?? 0;
      out.inboundVideoFramesDecoded += st.framesDecoded ?? 0;
      out.inboundVideoWidth = st.frameWidth ?? null;
      out.inboundVideoHeight = st.frameHeight ?? null;
    } else if (st.type === 'outbound-rtp' && st.kind === 'video') {
      out.outboundVideoBytes += st.bytesSent ?? 0;
      out.outboundVideoFramesEncoded += st.framesEncoded ?? 0;
    } else if (st.type === 'candidate-pair' && st.nominated && st.state === 'succeeded') {
      if (typeof st.currentRoundTripTime === 'number') out.iceRttMs = st.currentRoundTripTime * 1000;
    }
  }
  return out;
}

// ---------------------------------------------------------------------------------- wiring

ui.start.addEventListener('click', () => {
  start().catch(() => {
    // the reason is on the page already
  });
});
ui.stop.addEventListener('click', () => {
  void stop();
});
// Leaving the page ends the session on the server too.
addEventListener('pagehide', () => {
  const s = current;
  if (s?.sessionUrl && !s.deleted) {
    s.deleted = true;
    fetch(s.sessionUrl, { method: 'DELETE', headers: authHeaders(s), keepalive: true }).catch(() => {});
  }
});
ui.mode.addEventListener('change', () => gen.show(ui.mode.value === 'generate'));
gen.show(ui.mode.value === 'generate'); // a reload may keep the selection
wirePositionPad();
setState('idle');

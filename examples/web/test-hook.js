// The example page's test hook, window.causeway (examples/web/README.md): the page's whole state
// as data (everything it shows is readable here) and the actions a test drives it with. app.js
// keeps the fields up to date; the tests only read them and call the actions.

/**
 * A fresh hook: the state fields with their starting values, and the page's actions.
 * @param {{ start: Function, stop: Function, stats: Function, send: Function, setPosition: Function, channelLevels: Function }} actions
 */
export function createHook(actions) {
  return {
    /** 'idle' | 'starting' | 'connecting' | 'connected' | 'stopping' */
    state: 'idle',
    /** RTCPeerConnection.connectionState of the current (or last) session. */
    connectionState: 'new',
    /** Every JSON message received on the data channel in this session, as received (pongs too). */
    events: [],
    /** One entry per message: { message, receivedWallMs, latencyMs } (latencyMs when it has wallMs). */
    log: [],
    /** The server's `pipeline` event of this session: { name, latencyMs: { events?, audio?, video? } }, null before it. */
    pipeline: null,
    /** Absolute URL of the WHIP session resource (the Location), null when none. */
    sessionUrl: null,
    /** Last error shown on the page, null when none. */
    error: null,
    /** Last data-channel round trip (ping/pong) in ms. */
    rttMs: null,
    /** SDP of the last offer sent and answer received. */
    offer: null,
    answer: null,
    /** HTTP status of the last DELETE of a session (null before any, 0 if it failed to send). */
    deleteStatus: null,
    /** Messages that were not JSON objects with a string type. */
    invalidMessages: 0,
    /** Final captions of this session, in order: { text, startUs, endUs, receivedWallMs, latencyMs }
     *  (one per non-empty `final` event; the page shows each as a line). */
    captions: [],
    /** The caption still being heard (the last `partial` event's text), '' when none. */
    partial: '',
    /** Where the voice is meant to be: SOFA convention, degrees and metres (azimuth 0 front, 90 left, 270 right). */
    position: { azimuth: 0, elevation: 0, distance: 1 },
    /** Every position message sent this session, as sent, with the page's clock: { azimuth, elevation, distance, sentMs }. */
    positionsSent: [],
    ...actions,
    /** Generate mode (generate.js): { info, scene, steering, framesShown, fps, steers, steer(cmd), setScene(name), brightSpot() }. */
    generate: null,
  };
}

/** Makes the hook readable as window.causeway. */
export function installHook(hook) {
  // @ts-ignore: the test hook
  window.causeway = hook;
}

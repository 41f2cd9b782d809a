// Live mode's page side: the user-facing camera, asked for only when the user turns Live on
// (the app calls start()); a new video frame read out into the app (which draws it and hands it
// to its job) whenever the app has drawn the last one; the recording of the canvas (MediaRecorder
// over canvas.captureStream()); the camera released when Live is turned off or the tab is
// hidden. Nothing is stored and nothing is sent: frames go from the video element into wasm
// memory only, and a recording only to the download the user asked for.

// Frames are read out at most this many pixels a side: the detector looks at 256x256, and a
// face crop is 64x64 for the classifier.
const kMaxSide = 640;

// The camera's error as a sentence naming what happened.
export function cameraMessage(e) {
  const name = e && e.name;
  if (name === 'NotAllowedError' || name === 'SecurityError')
    return 'Live: camera permission was refused; allow the camera for this page in the browser, then turn Live on again';
  if (name === 'NotFoundError' || name === 'OverconstrainedError') return 'Live: no camera was found on this device';
  if (name === 'NotReadableError' || name === 'AbortError')
    return 'Live: the camera is in use by another application (or could not be started); close it there, then turn Live on again';
  return `Live: the camera could not be opened (${name || 'error'}: ${(e && e.message) || e})`;
}

// getApp(): the started app (Module); call(name, ...args): the loader's call with C strings;
// download(name, mime, bytes): the app's download path (cnnlensPlatform.download).
export function createLive({ canvas, getApp, call, download }) {
  let stream = null, video = null, wanted = false;
  let grabCanvas = null, grabCtx = null;
  let recorder = null, recorderStream = null;
  let lastTracks = [];        // the tracks of the last stream (the test hook reads their state)

  function stopCamera() {
    wanted = false;
    if (stream) stream.getTracks().forEach((t) => t.stop());
    if (video) video.srcObject = null;
    stream = null;
    video = null;
  }

  // Reads the current video frame out into the app when it wants one (once it has drawn the
  // last): the view draws it and the job takes it (the newest replacing one still waiting).
  // A frame no larger than kMaxSide is copied out as RGBA by WebCodecs (VideoFrame.copyTo
  // converts from the camera's YUV on the CPU, a few times faster than drawing the video into a
  // canvas and reading it back); larger frames, and browsers without that conversion, go through
  // a canvas, which also scales them down.
  let copying = false, copyRgba = typeof VideoFrame === 'function';
  let rgba = null;  // the copy's buffer, reused
  function deliver(app, pixels, w, h, t0) {
    const p = app._cnnlens_live_frame_buffer(w, h);
    if (!p) return;
    app.HEAPU8.set(pixels, p);  // HEAPU8 read now: memory growth replaces the view
    app._cnnlens_live_frame_ready(t0, performance.now() - t0);
  }
  function grab() {
    const app = getApp();
    if (copying || !video || !video.videoWidth || !app._cnnlens_live_wants_frame()) return;
    const t0 = performance.now();
    if (copyRgba && Math.max(video.videoWidth, video.videoHeight) <= kMaxSide) {
      let frame = null;
      try {
        frame = new VideoFrame(video);
      } catch (e) {
        copyRgba = false;
      }
      if (frame) {
        const { width: w, height: h } = frame.visibleRect;
        if (!rgba || rgba.byteLength !== w * h * 4) rgba = new Uint8Array(w * h * 4);
        copying = true;
        frame.copyTo(rgba, { format: 'RGBA', colorSpace: 'srgb' }).then(() => {
          frame.close();
          copying = false;
          if (video) deliver(getApp(), rgba, w, h, t0);  // Live may have been turned off meanwhile
        }, () => {  // no RGBA conversion in this browser: the canvas from now on
          frame.close();
          copying = false;
          copyRgba = false;
        });
        return;
      }
    }
    const s = Math.min(1, kMaxSide / Math.max(video.videoWidth, video.videoHeight));
    const w = Math.round(video.videoWidth * s), h = Math.round(video.videoHeight * s);
    if (!grabCanvas || grabCanvas.width !== w || grabCanvas.height !== h) {
      grabCanvas = new OffscreenCanvas(w, h);
      grabCtx = grabCanvas.getContext('2d', { willReadFrequently: true });
    }
    grabCtx.drawImage(video, 0, 0, w, h);
    deliver(app, grabCtx.getImageData(0, 0, w, h).data, w, h, t0);
  }

  function onVideoFrame() {
    if (!video) return;
    grab();
    video.requestVideoFrameCallback(onVideoFrame);
  }

  async function start() {
    wanted = true;
    if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) {
      call('cnnlens_live_failed', 'Live: this page has no camera access (browsers give it to https and localhost pages only)');
      return;
    }
    let s;
    try {
      s = await navigator.mediaDevices.getUserMedia({ audio: false,
        video: { facingMode: 'user', width: { ideal: 640 }, height: { ideal: 480 } } });
    } catch (e) {
      wanted = false;
      call('cnnlens_live_failed', cameraMessage(e));
      return;
    }
    if (!wanted) { s.getTracks().forEach((t) => t.stop()); return; }  // turned off while asking
    stream = s;
    lastTracks = s.getTracks();
    video = document.createElement('video');
    video.muted = true;
    video.playsInline = true;
    video.srcObject = s;
    try {
      await video.play();
    } catch (e) {
      stopCamera();
      call('cnnlens_live_failed', cameraMessage(e));
      return;
    }
    if (!video) return;
    getApp()._cnnlens_live_started(video.videoWidth, video.videoHeight);
    video.requestVideoFrameCallback(onVideoFrame);
  }

  // The tab hidden: the camera is released at once and Live turned off (the app says why).
  document.addEventListener('visibilitychange', () => {
    if (document.visibilityState !== 'hidden' || (!stream && !wanted)) return;
    stopCamera();
    call('cnnlens_live_stopped', 'Live stopped: the tab was hidden, so the camera was released; turn Live on again to resume');
  });

  function startRecording() {
    const type = ['video/webm;codecs=vp9', 'video/webm;codecs=vp8', 'video/webm']
      .find((t) => MediaRecorder.isTypeSupported(t));
    recorderStream = canvas.captureStream(30);
    recorder = new MediaRecorder(recorderStream, type ? { mimeType: type } : {});
    const chunks = [];
    recorder.ondataavailable = (e) => { if (e.data.size) chunks.push(e.data); };
    recorder.start(500);
    return chunks;
  }

  let chunks = null;
  return {
    start,
    stop: stopCamera,
    recordStart() {
      if (recorder) return;
      chunks = startRecording();
    },
    // Stops the recording and downloads it as `name` through the app's download path.
    recordStop(name) {
      if (!recorder) return;
      const r = recorder, got = chunks, s = recorderStream;
      recorder = null;
      r.onstop = async () => {
        s.getTracks().forEach((t) => t.stop());
        const blob = new Blob(got, { type: 'video/webm' });
        download(name, 'video/webm', new Uint8Array(await blob.arrayBuffer()));
      };
      r.stop();
    },
    // For the test hook: the state of every track of the last camera stream ('live', 'ended').
    trackStates: () => lastTracks.map((t) => t.readyState),
    recording: () => !!recorder,
  };
}

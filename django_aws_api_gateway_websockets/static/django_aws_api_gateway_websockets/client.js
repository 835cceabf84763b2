/**
 * A browser client for WebSocket APIs on Amazon API Gateway served by django-aws-api-gateway-websockets.
 * One ES module, no dependencies:
 *
 *   import {WebSocketClient} from "/static/django_aws_api_gateway_websockets/client.js";
 *   const client = new WebSocketClient("wss://abc123.execute-api.eu-west-1.amazonaws.com/prod",
 *                                      {tokenUrl: "/ws/token", keepAlive: {route: "ping"}});
 *   client.addEventListener("statechange", (e) => console.log(e.detail.state));
 *   client.on("presence", (event) => ...);                 // pushed messages, by their "type"
 *   await client.connect();
 *   const reply = await client.request("join", {room: "lobby"});   // the route's reply (two-way routes)
 *   client.send("post", {room: "lobby", text: "hi"});               // no reply awaited
 *
 * What it knows about API Gateway (and the views of this library):
 * - Routes are chosen by the body's "action" key; a request carries a "requestId" the view echoes in its reply,
 *   so replies are matched to requests whatever else arrives in between. An error reply rejects the request
 *   with a ReplyError; no reply within the timeout rejects it with a RequestTimeoutError (one-way routes never
 *   reply).
 * - A message over 128 KB, or over 32 KB (a browser sends each message as one frame, and API Gateway closes
 *   the socket for frames over 32 KB), is refused here with a MessageTooLargeError instead of costing the
 *   socket.
 * - API Gateway closes every connection after 2 hours and idle ones after 10 minutes: the client reconnects
 *   whenever the socket closes (unless close() was called), after a jittered exponential backoff, and can send
 *   a keep-alive message to a one-way route of yours while nothing else is sent.
 * - On another domain than the page (execute-api, a custom domain) the session cookie does not reach the
 *   socket: with `tokenUrl` the client fetches a single-use connect token before every connection attempt.
 * - While reconnecting, sends are queued (at most `maxQueue`) and go out, in order, once the socket is open.
 */

export const MAX_MESSAGE_BYTES = 128 * 1024;
export const MAX_FRAME_BYTES = 32 * 1024;

export class MessageTooLargeError extends Error {
  constructor(message, size, limit) {
    super(message);
    this.name = "MessageTooLargeError";
    this.size = size;
    this.limit = limit;
  }
}

export class RequestTimeoutError extends Error {
  constructor(route, timeout) {
    super(`No reply to "${route}" within ${timeout} ms.`);
    this.name = "RequestTimeoutError";
    this.route = route;
  }
}

/** The server answered a request with {"error": ...}. */
export class ReplyError extends Error {
  constructor(reply) {
    super(String(reply.error));
    this.name = "ReplyError";
    this.reply = reply;
  }
}

/** The socket closed before the reply came, the client was closed, or its send queue is full. */
export class ConnectionError extends Error {
  constructor(message) {
    super(message);
    this.name = "ConnectionError";
  }
}

const DEFAULTS = {
  protocols: [],
  tokenUrl: null,            // GET it for {"token", "param"} before each connection attempt
  tokenWhen: "cross-origin", // "cross-origin": only when the socket's host is not the page's; "always"
  routeSelectionKey: "action",
  requestIdKey: "requestId",
  requestTimeout: 10000,     // ms
  maxQueue: 100,             // messages queued while not connected
  backoff: {initial: 500, max: 30000},  // ms; each wait is drawn between half and all of min(max, initial * 2^n)
  keepAlive: null,           // {route: "ping", interval: 300000}: a one-way route, sent after `interval` ms idle
  shouldReconnect: () => true,          // (closeEvent) => boolean, for a close the client did not ask for
};

const encoder = new TextEncoder();

export class WebSocketClient extends EventTarget {
  constructor(url, options = {}) {
    super();
    this.url = url;
    this.options = {...DEFAULTS, ...options, backoff: {...DEFAULTS.backoff, ...(options.backoff || {})}};
    this._state = "idle";
    this._socket = null;
    this._handlers = new Map();
    this._pending = new Map();
    this._queue = [];
    this._attempt = 0;
    // Request ids: "r<16 random hex digits>.<n>", unique to this client, so a pushed message that carries another
    // client's requestId (an app relaying a client's body to a room) is never taken for a reply here.
    this._idPrefix = `r${Array.from(crypto.getRandomValues(new Uint8Array(8)), (b) => b.toString(16).padStart(2, "0")).join("")}`;
    this._nextId = 1;
    this._stopped = false;
    this._retryTimer = null;
    this._keepAliveTimer = null;
    this._opened = null;
  }

  /** "idle", "connecting", "open", "reconnecting" (waiting to try again) or "closed" (by close()). */
  get state() { return this._state; }

  /** Open the socket (and keep it open); resolves once it is open. */
  connect() {
    this._stopped = false;
    if (!this._opened) {
      this._opened = new Promise((resolve) => { this._resolveOpened = resolve; });
    }
    if (this._state === "idle" || this._state === "closed") {
      this._attempt = 0;
      this._open();
    }
    return this._opened;
  }

  /** Close the socket for good: no reconnect; queued and pending requests are rejected. */
  close(code = 1000, reason = "") {
    this._stopped = true;
    clearTimeout(this._retryTimer);
    this._stopKeepAlive();
    const socket = this._socket;
    this._socket = null;
    if (socket && socket.readyState <= WebSocket.OPEN) socket.close(code, reason);
    this._failAll(new ConnectionError("The client was closed."), true);
    this._opened = null;
    this._setState("closed");
  }

  /** Call fn(message) for each pushed JSON message whose "type" is `type`; "*" for every pushed message (a
   * parsed JSON value, or the text of a frame that is not JSON). Returns a function that removes it. */
  on(type, fn) {
    if (!this._handlers.has(type)) this._handlers.set(type, new Set());
    this._handlers.get(type).add(fn);
    return () => this.off(type, fn);
  }

  off(type, fn) {
    const set = this._handlers.get(type);
    if (set) set.delete(fn);
  }

  /** Send {action: route, ...payload}, expecting no reply. Queued while (re)connecting. */
  send(route, payload = {}) {
    this._enqueue({text: this._encode(route, payload)});
  }

  /** Send text as it is (a raw frame, for a view's @route(RAW) handler). */
  sendRaw(text) {
    this._enqueue({text: this._checked(String(text))});
  }

  /** Send {action: route, ...payload, requestId} and resolve with the route's reply (a JSON object). */
  request(route, payload = {}, {timeout = this.options.requestTimeout} = {}) {
    const id = `${this._idPrefix}.${this._nextId++}`;
    let text;
    try {
      text = this._encode(route, {...payload, [this.options.requestIdKey]: id});
    } catch (error) {
      return Promise.reject(error);
    }
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this._dropRequest(id);
        reject(new RequestTimeoutError(route, timeout));
      }, timeout);
      this._pending.set(id, {resolve, reject, timer, sent: false});
      try {
        this._enqueue({text, requestId: id});
      } catch (error) {
        this._dropRequest(id);
        reject(error);
      }
    });
  }

  // Internals ------------------------------------------------------------------------------------------------
  _encode(route, payload) {
    return this._checked(JSON.stringify({...payload, [this.options.routeSelectionKey]: route}));
  }

  _checked(text) {
    const size = encoder.encode(text).length;
    if (size > MAX_MESSAGE_BYTES) {
      throw new MessageTooLargeError(
        `Message too large: ${size} bytes; API Gateway accepts at most ${MAX_MESSAGE_BYTES} bytes (128 KB) per message.`,
        size, MAX_MESSAGE_BYTES);
    }
    if (size > MAX_FRAME_BYTES) {
      throw new MessageTooLargeError(
        `Frame too large: ${size} bytes; a browser sends each message as one WebSocket frame and API Gateway ` +
        `accepts frames of at most ${MAX_FRAME_BYTES} bytes (32 KB).`, size, MAX_FRAME_BYTES);
    }
    return text;
  }

  _enqueue(item) {
    if (this._state === "open" && this._socket && this._socket.readyState === WebSocket.OPEN) {
      this._transmit(item);
      return;
    }
    if (this._stopped || this._state === "closed") throw new ConnectionError("The client is closed.");
    if (this._queue.length >= this.options.maxQueue) {
      throw new ConnectionError(`Not connected and the send queue is full (${this.options.maxQueue} messages).`);
    }
    this._queue.push(item);
  }

  _transmit(item) {
    this._socket.send(item.text);
    if (item.requestId) {
      const pending = this._pending.get(item.requestId);
      if (pending) pending.sent = true;
    }
    this._armKeepAlive();
  }

  _dropRequest(id) {
    const pending = this._pending.get(id);
    if (pending) clearTimeout(pending.timer);
    this._pending.delete(id);
    this._queue = this._queue.filter((item) => item.requestId !== id);
  }

  /** Reject requests already sent (their reply would have come on the closed socket); with `all`, queued
   * ones too and empty the queue. */
  _failAll(error, all) {
    for (const [id, pending] of [...this._pending]) {
      if (all || pending.sent) {
        this._dropRequest(id);
        pending.reject(error);
      }
    }
    if (all) this._queue = [];
  }

  _setState(state) {
    if (state === this._state) return;
    const previous = this._state;
    this._state = state;
    this.dispatchEvent(new CustomEvent("statechange", {detail: {state, previous}}));
  }

  async _socketUrl() {
    const {tokenUrl, tokenWhen} = this.options;
    if (!tokenUrl) return this.url;
    const target = new URL(this.url, location.href);
    if (tokenWhen !== "always" && target.host === location.host) return this.url;
    const response = await fetch(tokenUrl, {credentials: "same-origin", cache: "no-store"});
    if (response.status === 401 || response.status === 403) return this.url;  // nobody logged in: anonymous
    if (!response.ok) throw new ConnectionError(`The connect token request failed (${response.status}).`);
    const {token, param = "token"} = await response.json();
    target.searchParams.set(param, token);
    return target.toString();
  }

  async _open() {
    clearTimeout(this._retryTimer);
    if (this._state !== "reconnecting") this._setState("connecting");
    let url;
    try {
      url = await this._socketUrl();
    } catch (error) {
      this._scheduleReconnect({code: 1006, reason: String(error && error.message), wasClean: false});
      return;
    }
    if (this._stopped) return;
    const socket = new WebSocket(url, this.options.protocols);
    this._socket = socket;
    socket.onopen = () => {
      if (socket !== this._socket) return;
      this._attempt = 0;
      this._setState("open");
      this.dispatchEvent(new CustomEvent("open", {detail: {protocol: socket.protocol}}));
      if (this._resolveOpened) {
        this._resolveOpened(this);
        this._resolveOpened = null;
      }
      const queued = this._queue;
      this._queue = [];
      queued.forEach((item) => this._transmit(item));
      this._armKeepAlive();
    };
    socket.onmessage = (event) => { if (socket === this._socket) this._receive(event.data); };
    socket.onclose = (event) => {
      if (socket !== this._socket) return;
      this._socket = null;
      this._stopKeepAlive();
      this._failAll(new ConnectionError(`The connection closed (${event.code}) before the reply came.`), false);
      if (this._stopped) return;
      this._scheduleReconnect(event);
    };
  }

  _scheduleReconnect(event) {
    const reconnect = !this._stopped && this.options.shouldReconnect(event);
    const {initial, max} = this.options.backoff;
    const ceiling = Math.min(max, initial * 2 ** this._attempt);
    const delay = reconnect ? Math.round(ceiling / 2 + Math.random() * ceiling / 2) : null;
    this.dispatchEvent(new CustomEvent("close", {detail: {code: event.code, reason: event.reason,
      wasClean: event.wasClean, reconnectIn: delay}}));
    if (!reconnect) {
      this._stopped = true;
      this._failAll(new ConnectionError("The connection closed."), true);
      this._setState("closed");
      return;
    }
    this._attempt += 1;
    this._setState("reconnecting");
    this._retryTimer = setTimeout(() => this._open(), delay);
  }

  _receive(data) {
    let message;
    try {
      message = JSON.parse(data);
    } catch {
      this._emit("*", data);
      return;
    }
    const key = this.options.requestIdKey;
    if (message && typeof message === "object" && !Array.isArray(message) && this._pending.has(message[key])) {
      const pending = this._pending.get(message[key]);
      this._dropRequest(message[key]);
      if ("error" in message) pending.reject(new ReplyError(message));
      else pending.resolve(message);
      return;
    }
    this._emit("*", message);
    if (message && typeof message.type === "string") this._emit(message.type, message);
  }

  _emit(type, message) {
    for (const fn of this._handlers.get(type) || []) {
      try {
        fn(message);
      } catch (error) {
        queueMicrotask(() => { throw error; });  // reported like any uncaught error; other handlers still run
      }
    }
  }

  _armKeepAlive() {
    const keepAlive = this.options.keepAlive;
    if (!keepAlive) return;
    clearTimeout(this._keepAliveTimer);
    this._keepAliveTimer = setTimeout(() => {
      if (this._state === "open" && this._socket && this._socket.readyState === WebSocket.OPEN) {
        this._transmit({text: JSON.stringify({[this.options.routeSelectionKey]: keepAlive.route || "ping"})});
      }
    }, keepAlive.interval || 5 * 60 * 1000);
  }

  _stopKeepAlive() {
    clearTimeout(this._keepAliveTimer);
  }
}

/* The booth's service worker: keeps /booth/ and its assets usable when the network drops.
   Pages: network first, the last good copy when offline. Booth assets: cache first.
   API calls are never touched (the page queues redemptions itself). */
const CACHE = "booth-v1";
const STATIC_PREFIX = "{{ static_prefix|escapejs }}";

self.addEventListener("install", () => self.skipWaiting());
self.addEventListener("activate", (event) => event.waitUntil(self.clients.claim()));

self.addEventListener("message", (event) => {
  const data = event.data || {};
  if (data.type === "precache" && Array.isArray(data.urls)) {
    event.waitUntil(caches.open(CACHE).then((cache) => Promise.all(data.urls.map((url) =>
      fetch(url, {credentials: "same-origin"})
        .then((response) => (response.ok && !response.redirected ? cache.put(url, response) : null))
        .catch(() => null)))));
  } else if (data.type === "forget-pages") {
    event.waitUntil(caches.open(CACHE).then((cache) => cache.keys().then((keys) => Promise.all(
      keys.filter((req) => !new URL(req.url).pathname.startsWith(STATIC_PREFIX)).map((req) => cache.delete(req))))));
  }
});

self.addEventListener("fetch", (event) => {
  const request = event.request;
  if (request.method !== "GET") return;
  const url = new URL(request.url);
  if (url.origin !== self.location.origin) return;
  const scope = new URL(self.registration.scope).pathname;
  if (request.mode === "navigate" && url.pathname.startsWith(scope)) {
    event.respondWith(fetch(request).then((response) => {
      if (response.ok && !response.redirected) {
        const copy = response.clone();
        caches.open(CACHE).then((cache) => cache.put(request, copy));
      }
      return response;
    }).catch(() => caches.match(request, {ignoreVary: true}).then((hit) => hit || Response.error())));
  } else if (url.pathname.startsWith(STATIC_PREFIX)) {
    event.respondWith(caches.match(request, {ignoreVary: true}).then((hit) => hit || fetch(request).then((response) => {
      if (response.ok) {
        const copy = response.clone();
        caches.open(CACHE).then((cache) => cache.put(request, copy));
      }
      return response;
    })));
  }
});

// Haven's service worker (SPEC §5): the app with no connection, and the outbox's replay.
//
// - Precaches only public, versioned things (BUILD.precache, written in by the server): static
//   files, the manifest, the Add Incident app shell and the offline page. Never a page with
//   personal data, never a redirect.
// - Pages come from the network (asked for while the worker starts: navigation preload); with
//   none, Add Incident falls back to its app shell and any other page to the offline page.
//   Static files come from this version's cache.
// - Replays the outbox from every trigger it has: starting, Background Sync where the browser
//   has it (Safari has not), and a page's message. All work is inside waitUntil.
// - Never takes over while a page is open: pages offer "A new version is ready — reload", and
//   ask for skipWaiting only when nothing is unsent.

// __HAVEN_STATIC__ is this build's static prefix (/static/<version>), written in by the server.
import { replayOutbox } from '__HAVEN_STATIC__/js/outbox.js';
import '/sw/push.js';

const BUILD = "__HAVEN_BUILD__";
const CACHE_PREFIX = 'haven-';
const CACHE = `${CACHE_PREFIX}${BUILD.version}`;
const SHELL = '/offline/incident';
const OFFLINE_PAGE = '/offline';
const SYNC_TAG = 'haven-outbox';

self.addEventListener('install', (event) => {
  event.waitUntil(precache());
});

async function precache() {
  const cache = await caches.open(CACHE);
  await Promise.all(BUILD.precache.map(async (url) => {
    // Static URLs name their build, so what the page just loaded is taken from the HTTP cache;
    // the pages and the manifest are fetched afresh.
    const fresh = url.startsWith('/static/') ? 'default' : 'no-store';
    const response = await fetch(url, { cache: fresh, credentials: 'omit', redirect: 'error' });
    if (!response.ok) throw new Error(`precache: ${url} answered ${response.status}`);
    await cache.put(url, response);
  }));
}

self.addEventListener('activate', (event) => {
  event.waitUntil((async () => {
    const names = await caches.keys();
    await Promise.all(names
      .filter((name) => name.startsWith(CACHE_PREFIX) && name !== CACHE)
      .map((name) => caches.delete(name)));
    // A navigation's request goes out while the worker starts, not after (Safari 15.4+).
    await self.registration.navigationPreload?.enable();
    await self.clients.claim();
    await replay();
  })());
});

self.addEventListener('message', (event) => {
  const { type } = event.data || {};
  if (type === 'replay') event.waitUntil(replay({ force: true }));
  if (type === 'skip-waiting') self.skipWaiting();
});

self.addEventListener('sync', (event) => {
  if (event.tag === SYNC_TAG) event.waitUntil(replay({ force: true }));
});

self.addEventListener('fetch', (event) => {
  const { request } = event;
  const url = new URL(request.url);
  if (request.method !== 'GET' || url.origin !== self.location.origin) return;
  if (request.mode === 'navigate') {
    event.respondWith(navigate(event, url));
    // A navigation is a sign of life: try the outbox too, without holding the page up.
    event.waitUntil(replay({ force: true }).catch(() => {}));
    return;
  }
  if (BUILD.precache.includes(url.pathname)) {
    event.respondWith(fromCache(request, url));
  }
});

async function navigate(event, url) {
  try {
    const response = (await event.preloadResponse) ?? await fetch(event.request);
    if (response.status < 500) return response;
    return (await fallback(url)) ?? response;
  } catch {
    const cached = await fallback(url);
    if (cached) return cached;
    return new Response('Haven cannot be reached.', { status: 503, headers: { 'Content-Type': 'text/plain' } });
  }
}

async function fallback(url) {
  const cache = await caches.open(CACHE);
  const page = url.pathname === '/incidents/new' || url.pathname === SHELL ? SHELL : OFFLINE_PAGE;
  return cache.match(page);
}

async function fromCache(request, url) {
  const cached = await (await caches.open(CACHE)).match(url.pathname);
  return cached ?? fetch(request);
}

// Every start of the worker is a chance to send what waits, but never twice at once (the
// outbox takes a lock) and never without waitUntil around it where there is an event.
let replaying = null;
function replay(options = {}) {
  if (!replaying) {
    replaying = replayOutbox(options).finally(() => { replaying = null; });
  }
  return replaying;
}

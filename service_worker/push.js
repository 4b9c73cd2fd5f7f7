// The push handler (SPEC §4), imported by the service worker. Web push delivery arrives with
// its issue; until then the service worker receives no pushes, so this module adds nothing.
export {};

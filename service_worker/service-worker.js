// Haven's service worker (SPEC §5). Offline capture is built on this file.
import '/sw/push.js';

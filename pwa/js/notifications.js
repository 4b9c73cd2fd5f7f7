// The Notifications page: turn notifications on or off for this device.
import {
  canSubscribe, currentSubscription, isAppleMobile, isHomeScreenApp, registerWorker, subscribe,
  unsubscribe,
} from './push-subscription.js';

const panel = document.querySelector('[data-push-panel]');
const status = panel.querySelector('[data-push-status]');
const error = panel.querySelector('[data-push-error]');
const onButton = panel.querySelector('[data-push-subscribe]');
const offButton = panel.querySelector('[data-push-unsubscribe]');

function show(subscribed) {
  onButton.hidden = subscribed;
  offButton.hidden = !subscribed;
  status.textContent = subscribed
    ? 'This device receives notifications.'
    : 'This device does not receive notifications.';
}

async function start() {
  if (!canSubscribe()) {
    const apple = isAppleMobile() && !isHomeScreenApp();
    panel.querySelector('[data-push-ios]').hidden = !apple;
    status.textContent = apple
      ? 'This browser cannot receive notifications here.'
      : 'This browser cannot receive notifications. Try a current Chrome, Edge, Firefox or Safari.';
    return;
  }
  await registerWorker();
  show(Boolean(await currentSubscription()));
}

async function act(button, work) {
  error.textContent = '';
  button.disabled = true;
  try {
    await work();
    window.location.reload();
  } catch (problem) {
    error.textContent = problem.message || 'That did not work. Please try again.';
  } finally {
    button.disabled = false;
  }
}

onButton.addEventListener('click', () => act(onButton, () => subscribe(
  panel.dataset.publicKey, panel.dataset.subscribeUrl,
)));
offButton.addEventListener('click', () => act(offButton, () => unsubscribe(
  panel.dataset.unsubscribeUrl,
)));

start().catch(() => {
  status.textContent = 'Notifications could not be checked on this device.';
});

// Find a pupil: results as you type (the form still works without script: it submits).
const form = document.querySelector("[data-pupil-finder]");
const input = form?.querySelector("input[name=q]");
const results = document.getElementById("pupil-finder-results");
let latest = 0;

function item(pupil) {
  const li = document.createElement("li");
  const link = document.createElement("a");
  link.href = pupil.url;
  const name = document.createElement("strong");
  name.textContent = pupil.name;
  link.append(name);
  const facts = document.createElement("span");
  facts.className = "hint";
  const parts = [pupil.class, `born ${new Date(pupil.date_of_birth).toLocaleDateString("en-GB", { day: "numeric", month: "short", year: "numeric" })}`];
  if (pupil.legal_name !== pupil.name) parts.push(`legal name ${pupil.legal_name}`);
  if (!pupil.on_roll) parts.push("left");
  facts.textContent = " " + parts.filter(Boolean).join(" · ");
  li.append(link, facts);
  return li;
}

function say(text) {
  const message = document.createElement("p");
  message.textContent = text;
  results.replaceChildren(message);
}

// A failed search must say so: an empty list would read as "no such pupil" and the person would
// stop looking. The Search button (a plain form submit) always remains as the way through.
function failed(response) {
  if (response?.status === 401) {
    say("You have been signed out. Sign in again to search.");
  } else {
    say("Could not search just now. Press Search to try again.");
  }
}

async function search() {
  const text = input.value.trim();
  const mine = ++latest;
  if (text.length < 2) return;
  const url = `${form.dataset.searchUrl}?q=${encodeURIComponent(text)}`;
  let response;
  try {
    response = await fetch(url, { headers: { Accept: "application/json" }, credentials: "same-origin" });
  } catch {
    if (mine === latest) failed(null);
    return;
  }
  if (mine !== latest) return;
  if (!response.ok) {
    failed(response);
    return;
  }
  const { pupils } = await response.json();
  const list = document.createElement("ul");
  list.className = "pupil-results";
  list.append(...pupils.map(item));
  if (pupils.length) results.replaceChildren(list);
  else say(`No pupil matches “${text}”.`);
}

let timer;
input?.addEventListener("input", () => {
  clearTimeout(timer);
  timer = setTimeout(search, 200);
});

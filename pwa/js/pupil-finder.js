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

async function search() {
  const text = input.value.trim();
  const mine = ++latest;
  if (text.length < 2) return;
  const url = `${form.dataset.searchUrl}?q=${encodeURIComponent(text)}`;
  const response = await fetch(url, { headers: { Accept: "application/json" }, credentials: "same-origin" });
  if (!response.ok || mine !== latest) return;
  const { pupils } = await response.json();
  const list = document.createElement("ul");
  list.className = "pupil-results";
  list.append(...pupils.map(item));
  const none = document.createElement("p");
  none.textContent = `No pupil matches “${text}”.`;
  results.replaceChildren(pupils.length ? list : none);
}

let timer;
input?.addEventListener("input", () => {
  clearTimeout(timer);
  timer = setTimeout(search, 200);
});

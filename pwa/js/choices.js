// Checkbox lists built from the school's vocabulary: categories grouped by family, with the
// DSL-only family closed to everyone but designated safeguarding leads (policy step 4), and
// agencies (step 8).

const DISCLOSURE = 'Safeguarding disclosure';

function checkbox(name, value, labelText, { disabled = false, describedBy } = {}) {
  const label = document.createElement('label');
  label.className = 'checkbox';
  const input = document.createElement('input');
  input.type = 'checkbox';
  input.name = name;
  input.value = String(value);
  input.id = `${name}-${value}`;
  input.disabled = disabled;
  if (describedBy) input.setAttribute('aria-describedby', describedBy);
  label.htmlFor = input.id;
  label.append(input, ` ${labelText}`);
  return label;
}

function families(categories) {
  const groups = new Map();
  for (const category of categories) {
    const family = category.family || category.name;
    if (!groups.has(family)) groups.set(family, []);
    groups.get(family).push(category);
  }
  return groups;
}

function dslOnlyAdvice(id, disclosure) {
  const advice = document.createElement('div');
  advice.className = 'hint dsl-advice';
  advice.id = id;
  const p = document.createElement('p');
  p.textContent = 'Only designated safeguarding leads choose these. Do not choose Safeguarding — '
    + 'if you think this is a safeguarding disclosure, choose Cause for concern – Safeguarding '
    + 'disclosure, and tell a designated safeguarding lead now.';
  advice.append(p);
  if (disclosure) {
    const button = document.createElement('button');
    button.type = 'button';
    button.className = 'button';
    button.textContent = 'Choose Cause for concern – Safeguarding disclosure';
    button.addEventListener('click', () => {
      const box = document.getElementById(`category-${disclosure.id}`);
      box.checked = true;
      box.dispatchEvent(new Event('change', { bubbles: true }));
      box.focus();
    });
    advice.append(button);
  }
  return advice;
}

// Families with sub-categories offer the sub-categories (a family's own row is its heading).
export function renderCategories(container, categories, canChooseDslOnly) {
  const disclosure = categories.find((c) => c.name === DISCLOSURE && !c.dsl_only);
  const single = document.createElement('div');
  single.className = 'choice-grid';
  const nodes = [single];
  for (const [family, members] of families(categories)) {
    const children = members.filter((c) => c.name !== family || members.length === 1);
    if (members.length === 1 && children[0].name === family) {
      single.append(checkbox('category', children[0].id, family));
      continue;
    }
    const closed = children.some((c) => c.dsl_only) && !canChooseDslOnly;
    const fieldset = document.createElement('fieldset');
    fieldset.className = 'category-family';
    const legend = document.createElement('legend');
    legend.textContent = family;
    fieldset.append(legend);
    const adviceId = `family-advice-${children[0].id}`;
    if (closed) fieldset.append(dslOnlyAdvice(adviceId, disclosure));
    const grid = document.createElement('div');
    grid.className = 'choice-grid';
    for (const category of children) {
      const locked = category.dsl_only && !canChooseDslOnly;
      grid.append(checkbox('category', category.id, category.name, {
        disabled: locked,
        describedBy: locked ? adviceId : undefined,
      }));
    }
    fieldset.append(grid);
    nodes.push(fieldset);
  }
  container.replaceChildren(...nodes);
}

export function renderAgencies(container, agencies) {
  const grid = document.createElement('div');
  grid.className = 'choice-grid';
  grid.append(...agencies.map((agency) => checkbox('agency', agency.id, agency.name)));
  container.replaceChildren(grid);
}

export function checkedIds(container) {
  return [...container.querySelectorAll('input[type=checkbox]:checked:not(:disabled)')]
    .map((box) => Number(box.value));
}

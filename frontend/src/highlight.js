// Problem markers for the designer: a red outline (canvas marker) and a badge
// overlay whose tooltip lists the messages. Built with DOM calls and
// textContent only, so messages are never parsed as HTML.

const MARKER = 'shodaku-problem';
const OVERLAY_TYPE = 'shodaku-problem';

/** The diagram element for a BPMN id; a process id maps to its participant. */
function findElement(elementRegistry, id) {
  const element = elementRegistry.get(id);
  if (element) {
    return element;
  }
  return elementRegistry.find((e) => e.type === 'bpmn:Participant' &&
    e.businessObject.processRef && e.businessObject.processRef.id === id) || null;
}

function badge(messages, label, onActivate) {
  const wrapper = document.createElement('div');
  wrapper.className = 'shodaku-problem-overlay';
  const button = document.createElement('button');
  button.type = 'button';
  button.className = 'shodaku-problem-badge';
  button.textContent = '!';
  button.title = messages.join('\n');
  button.setAttribute('aria-label', `${label}: ${messages.join(' / ')}`);
  button.addEventListener('click', (event) => {
    event.stopPropagation();
    onActivate();
  });
  const tip = document.createElement('div');
  tip.className = 'shodaku-problem-tip';
  tip.setAttribute('role', 'tooltip');
  for (const message of messages) {
    const line = document.createElement('div');
    line.textContent = message;
    tip.appendChild(line);
  }
  wrapper.appendChild(button);
  wrapper.appendChild(tip);
  return wrapper;
}

/** Mark [{element_id, message}]; returns [{element, overlayId}] for removal. */
export function addHighlights(modeler, problems) {
  const elementRegistry = modeler.get('elementRegistry');
  const canvas = modeler.get('canvas');
  const overlays = modeler.get('overlays');
  const selection = modeler.get('selection');
  const translate = modeler.get('translate');

  const byElement = new Map();
  for (const problem of problems) {
    const element = problem && problem.element_id ? findElement(elementRegistry, String(problem.element_id)) : null;
    if (!element) {
      continue;
    }
    if (!byElement.has(element)) {
      byElement.set(element, []);
    }
    if (problem.message) {
      byElement.get(element).push(String(problem.message));
    }
  }

  const added = [];
  for (const [ element, messages ] of byElement) {
    canvas.addMarker(element, MARKER);
    const overlayId = overlays.add(element, OVERLAY_TYPE, {
      position: { top: -12, right: 12 },
      html: badge(messages, translate('Problem'), () => selection.select(element))
    });
    added.push({ element, overlayId });
  }
  return added;
}

export function removeHighlights(modeler, added) {
  const canvas = modeler.get('canvas');
  const overlays = modeler.get('overlays');
  const elementRegistry = modeler.get('elementRegistry');
  for (const { element, overlayId } of added) {
    if (elementRegistry.get(element.id) === element) {
      canvas.removeMarker(element, MARKER);
    }
    overlays.remove(overlayId);
  }
}

// ShodakuViewer: read-only diagram of one request with the path taken.
// NavigatedViewer only (pan with the mouse or arrow keys, zoom with the wheel),
// built as an IIFE exposing the global `ShodakuViewer`.

import NavigatedViewer from 'bpmn-js/lib/NavigatedViewer';

import spiffworkflowModdle from './spiffworkflow-moddle.js';

const MARKERS = {
  completed: 'shodaku-completed',
  current: 'shodaku-current',
  flows: 'shodaku-taken'
};

/**
 * Render `xml` into `container` and mark completed steps, current steps and
 * the sequence flows taken. Unknown ids are ignored. Resolves to the viewer
 * object ({viewer, destroy()}); rejects on unreadable XML.
 */
export async function show(options) {
  const { container, xml, completed = [], current = [], flows = [] } = options || {};
  if (!container) {
    throw new Error('ShodakuViewer.show: container is required');
  }
  const viewer = new NavigatedViewer({
    container,
    moddleExtensions: { spiffworkflow: spiffworkflowModdle }
  });
  try {
    await viewer.importXML(xml);
  } catch (err) {
    viewer.destroy();
    throw err;
  }
  const canvas = viewer.get('canvas');
  const elementRegistry = viewer.get('elementRegistry');
  const mark = (ids, marker) => {
    for (const id of ids || []) {
      if (elementRegistry.get(id)) {
        canvas.addMarker(id, marker);
      }
    }
  };
  mark(completed, MARKERS.completed);
  mark(flows, MARKERS.flows);
  mark(current, MARKERS.current);
  container.classList.add('shodaku-viewer');
  canvas.zoom('fit-viewport', 'auto');
  return {
    viewer,
    destroy() {
      viewer.destroy();
    }
  };
}

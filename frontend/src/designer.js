// ShodakuDesigner: bpmn-js Modeler + properties panel + our spiffworkflow
// extension and provider, in Japanese by default. Built as an IIFE exposing the
// global `ShodakuDesigner` (see build.mjs); the page glue only uses create().

import Modeler from 'bpmn-js/lib/Modeler';
import { BpmnPropertiesPanelModule, BpmnPropertiesProviderModule } from 'bpmn-js-properties-panel';

import spiffworkflowModdle from './spiffworkflow-moddle.js';
import ShodakuPropertiesProvider from './properties-provider.js';
import { translateModule } from './translations.js';
import { addHighlights, removeHighlights } from './highlight.js';

const providerModule = {
  __init__: [ 'shodakuPropertiesProvider' ],
  shodakuPropertiesProvider: [ 'type', ShodakuPropertiesProvider ]
};

// Used when the page has no diagram yet: one pool, one lane, one start event.
const EMPTY_DIAGRAM = `<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" xmlns:bpmndi="http://www.omg.org/spec/BPMN/20100524/DI" xmlns:dc="http://www.omg.org/spec/DD/20100524/DC" xmlns:spiffworkflow="http://spiffworkflow.org/bpmn/schema/1.0/core" id="Definitions_new" targetNamespace="http://shodaku.example/bpmn">
  <bpmn:collaboration id="Collaboration_new">
    <bpmn:participant id="Participant_new" processRef="new_process" />
  </bpmn:collaboration>
  <bpmn:process id="new_process" isExecutable="true">
    <bpmn:laneSet id="LaneSet_new">
      <bpmn:lane id="Lane_1"><bpmn:flowNodeRef>start</bpmn:flowNodeRef></bpmn:lane>
    </bpmn:laneSet>
    <bpmn:startEvent id="start" />
  </bpmn:process>
  <bpmndi:BPMNDiagram id="BPMNDiagram_new">
    <bpmndi:BPMNPlane id="BPMNPlane_new" bpmnElement="Collaboration_new">
      <bpmndi:BPMNShape id="Participant_new_di" bpmnElement="Participant_new" isHorizontal="true"><dc:Bounds x="100" y="40" width="800" height="200" /></bpmndi:BPMNShape>
      <bpmndi:BPMNShape id="Lane_1_di" bpmnElement="Lane_1" isHorizontal="true"><dc:Bounds x="130" y="40" width="770" height="200" /></bpmndi:BPMNShape>
      <bpmndi:BPMNShape id="start_di" bpmnElement="start"><dc:Bounds x="180" y="122" width="36" height="36" /></bpmndi:BPMNShape>
    </bpmndi:BPMNPlane>
  </bpmndi:BPMNDiagram>
</bpmn:definitions>`;

const EVENTS = { changed: 'commandStack.changed' };


// The palette floats over the canvas' left edge (about 110 px wide, 20 px from the edge).
const PALETTE_PX = 150;

/** Fit the whole diagram, then widen the view so its left edge is not hidden under the palette. */
function fitBesidePalette(canvas) {
  canvas.zoom('fit-viewport', 'auto');
  const box = canvas.viewbox();
  const pad = PALETTE_PX / box.scale;
  const grow = (box.width + pad) / box.width;
  canvas.viewbox({ x: box.x - pad, y: box.y, width: box.width + pad, height: box.height * grow });
}

class Designer {

  constructor(options) {
    const { canvas, panel, roles = [], handlers = [], forms = [], patterns = {}, locale = 'ja' } = options;
    if (!canvas || !panel) {
      throw new Error('ShodakuDesigner.create: canvas and panel elements are required');
    }
    this._canvasContainer = canvas;
    this._highlights = [];
    this.modeler = new Modeler({
      container: canvas,
      propertiesPanel: {
        parent: panel,
        layout: {
          groups: {
            general: { open: true },
            'shodaku-process': { open: true },
            'shodaku-user-task': { open: true },
            'shodaku-service-task': { open: true },
            'shodaku-parameters': { open: true },
            'shodaku-condition': { open: true },
            'shodaku-timer': { open: true },
            documentation: { open: true }
          }
        }
      },
      shodaku: { roles, handlers, forms, patterns, locale },
      additionalModules: [
        BpmnPropertiesPanelModule,
        BpmnPropertiesProviderModule,
        providerModule,
        translateModule(locale)
      ],
      moddleExtensions: { spiffworkflow: spiffworkflowModdle }
    });
    canvas.classList.add('shodaku-designer-canvas');
    panel.classList.add('shodaku-designer-panel');
  }

  /** Replace the diagram; resolves to the import warnings (rejects on unreadable XML). */
  async importXML(xml) {
    this._highlights = [];
    const { warnings } = await this.modeler.importXML(xml || EMPTY_DIAGRAM);
    fitBesidePalette(this.modeler.get('canvas'));
    return warnings || [];
  }

  /** The diagram as formatted BPMN XML, spiffworkflow extensions included. */
  async getXML() {
    const { xml } = await this.modeler.saveXML({ format: true });
    return xml;
  }

  /**
   * Mark elements with problems: [{element_id, message}]. Unknown ids are
   * ignored; returns how many elements were marked. Replaces earlier highlights.
   */
  highlight(problems) {
    this.clearHighlights();
    this._highlights = addHighlights(this.modeler, problems || []);
    return this._highlights.length;
  }

  clearHighlights() {
    removeHighlights(this.modeler, this._highlights);
    this._highlights = [];
  }

  /** Subscribe: on("changed", cb) fires after every edit, undo and redo (until destroy()). */
  on(event, callback) {
    const name = EVENTS[event];
    if (!name) {
      throw new Error(`ShodakuDesigner: unknown event "${event}"`);
    }
    this.modeler.get('eventBus').on(name, () => { callback(); });
  }

  destroy() {
    this.modeler.destroy();
    this._canvasContainer.classList.remove('shodaku-designer-canvas');
  }
}

/** Create a designer in `canvas` with its properties panel in `panel`, showing `xml`. */
export async function create(options) {
  const designer = new Designer(options || {});
  try {
    await designer.importXML(options.xml);
  } catch (err) {
    designer.destroy();
    throw err;
  }
  return designer;
}

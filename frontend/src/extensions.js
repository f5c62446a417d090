// Reading and writing our spiffworkflow extension elements on a business
// object. Writers return lists of `element.updateModdleProperties` commands so
// one panel edit is one undo step ('properties-panel.multi-command-executor').

import { is } from 'bpmn-js/lib/util/ModelUtil';

function update(element, moddleElement, properties) {
  return { cmd: 'element.updateModdleProperties', context: { element, moddleElement, properties } };
}

export function extensionValues(bo, type) {
  const ext = bo && bo.get('extensionElements');
  const values = (ext && ext.get('values')) || [];
  return type ? values.filter((v) => is(v, type)) : values;
}

/** The value of <spiffworkflow:property name=…> or undefined. */
export function getSpiffProperty(bo, name) {
  for (const container of extensionValues(bo, 'spiffworkflow:Properties')) {
    const prop = container.get('properties').find((p) => p.name === name);
    if (prop) {
      return prop.value;
    }
  }
  return undefined;
}

/**
 * Ensure bo has extensionElements; push the creating command if needed.
 * @return the (possibly new) bpmn:ExtensionElements
 */
function ensureExtensionElements(element, bo, bpmnFactory, cmds) {
  let ext = bo.get('extensionElements');
  if (!ext) {
    ext = bpmnFactory.create('bpmn:ExtensionElements', { values: [] });
    ext.$parent = bo;
    cmds.push(update(element, bo, { extensionElements: ext }));
  }
  return ext;
}

/** Remove `child` from bo's extension elements (and the container when it empties). */
function removeExtension(element, bo, child, cmds) {
  const ext = bo.get('extensionElements');
  const values = ext.get('values').filter((v) => v !== child);
  if (values.length) {
    cmds.push(update(element, ext, { values }));
  } else {
    cmds.push(update(element, bo, { extensionElements: undefined }));
  }
}

/** Commands setting (or, for '', null or undefined, removing) a spiffworkflow property. */
export function setSpiffPropertyCommands(element, bo, name, value, bpmnFactory) {
  const cmds = [];
  const remove = value === undefined || value === null || value === '';
  let container = extensionValues(bo, 'spiffworkflow:Properties')
    .find((c) => c.get('properties').some((p) => p.name === name));
  const prop = container && container.get('properties').find((p) => p.name === name);

  if (remove) {
    if (prop) {
      const rest = container.get('properties').filter((p) => p !== prop);
      if (rest.length) {
        cmds.push(update(element, container, { properties: rest }));
      } else {
        removeExtension(element, bo, container, cmds);
      }
    }
    return cmds;
  }
  if (prop) {
    if (prop.value !== value) {
      cmds.push(update(element, prop, { value }));
    }
    return cmds;
  }
  const ext = ensureExtensionElements(element, bo, bpmnFactory, cmds);
  container = extensionValues(bo, 'spiffworkflow:Properties')[0];
  if (!container) {
    container = bpmnFactory.create('spiffworkflow:Properties', { properties: [] });
    container.$parent = ext;
    cmds.push(update(element, ext, { values: [ ...ext.get('values'), container ] }));
  }
  const created = bpmnFactory.create('spiffworkflow:Property', { name, value });
  created.$parent = container;
  cmds.push(update(element, container, { properties: [ ...container.get('properties'), created ] }));
  return cmds;
}

export function getOperator(bo) {
  return extensionValues(bo, 'spiffworkflow:ServiceTaskOperator')[0];
}

export function getParameters(bo) {
  const operator = getOperator(bo);
  const list = operator && operator.get('parameterList');
  return (list && list.get('parameters')) || [];
}

/** Ensure a serviceTaskOperator exists; push creating commands. */
function ensureOperator(element, bo, bpmnFactory, cmds) {
  let operator = getOperator(bo);
  if (!operator) {
    const ext = ensureExtensionElements(element, bo, bpmnFactory, cmds);
    operator = bpmnFactory.create('spiffworkflow:ServiceTaskOperator', {});
    operator.$parent = ext;
    cmds.push(update(element, ext, { values: [ ...ext.get('values'), operator ] }));
  }
  return operator;
}

/** Commands setting an operator attribute ('id' or 'resultVariable'). */
export function setOperatorAttrCommands(element, bo, attr, value, bpmnFactory) {
  const cmds = [];
  const operator = getOperator(bo);
  value = value === '' ? undefined : value;
  if (!operator && value === undefined) {
    return cmds;
  }
  if (operator && value === undefined && !getParameters(bo).length &&
      !operator.get(attr === 'id' ? 'resultVariable' : 'id')) {
    removeExtension(element, bo, operator, cmds);
    return cmds;
  }
  const target = ensureOperator(element, bo, bpmnFactory, cmds);
  cmds.push(update(element, target, { [attr]: value }));
  return cmds;
}

/** Commands adding a parameter named param<N> (the first free N), type str, empty value. */
export function addParameterCommands(element, bo, bpmnFactory) {
  const cmds = [];
  const operator = ensureOperator(element, bo, bpmnFactory, cmds);
  let list = operator.get('parameterList');
  if (!list) {
    list = bpmnFactory.create('spiffworkflow:Parameters', { parameters: [] });
    list.$parent = operator;
    cmds.push(update(element, operator, { parameterList: list }));
  }
  const taken = new Set(list.get('parameters').map((p) => p.id));
  let n = list.get('parameters').length + 1;
  while (taken.has('param' + n)) {
    n++;
  }
  const parameter = bpmnFactory.create('spiffworkflow:Parameter', { id: 'param' + n, type: 'str', value: '' });
  parameter.$parent = list;
  cmds.push(update(element, list, { parameters: [ ...list.get('parameters'), parameter ] }));
  return cmds;
}

export function removeParameterCommands(element, bo, parameter) {
  const cmds = [];
  const operator = getOperator(bo);
  const list = operator && operator.get('parameterList');
  if (!list) {
    return cmds;
  }
  const rest = list.get('parameters').filter((p) => p !== parameter);
  if (rest.length) {
    cmds.push(update(element, list, { parameters: rest }));
  } else {
    cmds.push(update(element, operator, { parameterList: undefined }));
  }
  return cmds;
}

export function updateCommand(element, moddleElement, properties) {
  return [ update(element, moddleElement, properties) ];
}

// Our properties provider: the fields Shodaku's engine reads from a diagram
// (processes/README.md), with labels through `translate` (Japanese by default).
// It runs after the standard BPMN provider (lower priority) so it can adjust
// its groups: lane names become a role select, the timer group is replaced by
// one without timeCycle (the engine refuses it) and without external links.

import { is, getBusinessObject } from 'bpmn-js/lib/util/ModelUtil';
import { useService } from 'bpmn-js-properties-panel';
import {
  Group, ListGroup,
  TextFieldEntry, TextAreaEntry, SelectEntry, CheckboxEntry,
  isTextFieldEntryEdited, isTextAreaEntryEdited, isSelectEntryEdited, isCheckboxEntryEdited
} from '@bpmn-io/properties-panel';

import {
  getSpiffProperty, setSpiffPropertyCommands,
  getOperator, getParameters, setOperatorAttrCommands,
  addParameterCommands, removeParameterCommands, updateCommand
} from './extensions.js';

const LOW_PRIORITY = 500;
const MULTI = 'properties-panel.multi-command-executor';
// Exactly what webapp/engine/calendar.py parse_due accepts (_DUE, and an amount of at least 1).
const DUE_PATTERN = /^\s*(\d{1,3})\s*(bd|d|h)\s*$/;
const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]*$/;
const PARAMETER_TYPES = [ 'str', 'int', 'float', 'bool', 'list', 'dict' ];

function shodakuConfig() {
  return useService('config.shodaku', false) || {};
}

/** The panel services our entries use (hooks: call at the top of a component). */
function services() {
  return {
    translate: useService('translate'),
    debounce: useService('debounceInput'),
    commandStack: useService('commandStack'),
    bpmnFactory: useService('bpmnFactory')
  };
}

function run(commandStack, cmds) {
  if (cmds.length) {
    commandStack.execute(MULTI, cmds);
  }
}

function isDue(value) {
  const m = DUE_PATTERN.exec(value);
  return Boolean(m) && Number(m[1]) >= 1;
}

/** The process whose properties a participant or process element edits. */
function processOf(element) {
  const bo = getBusinessObject(element);
  if (is(bo, 'bpmn:Participant')) {
    return bo.get('processRef');
  }
  return is(bo, 'bpmn:Process') ? bo : null;
}

function enclosingProcess(bo) {
  let p = bo && bo.$parent;
  while (p && !is(p, 'bpmn:Process')) {
    p = p.$parent;
  }
  return p;
}

function withCurrent(options, current, unknownLabel) {
  if (current && !options.some((o) => o.value === current)) {
    options.push({ value: current, label: unknownLabel });
  }
  return options;
}

/** Select options: "(none)", then `items`, then the current value when it is none of them. */
function choices(translate, items, current, unknownLabel) {
  return withCurrent([ { value: '', label: translate('(none)') }, ...items ], current, unknownLabel);
}

// ---------------------------------------------------------------- generic

/**
 * A select of "(none)", `items()` and, when it is none of them, the current value shown as
 * `unknown(current)`. `get()` reads the stored value, `set(value)` writes it ('' = none).
 */
function choiceEntry(translate, { element, id, label, description, get, set, items, unknown }) {
  return SelectEntry({
    element, id, label, description,
    getValue: () => get() || '',
    setValue: set,
    getOptions: () => {
      const current = get();
      return choices(translate, items(), current, unknown(current));
    }
  });
}

/** A text field (an area with `area`) whose value is trimmed before `set(value)` stores it. */
function textEntry({ translate, debounce }, { element, id, label, description, area, get, set, validate }) {
  const Entry = area ? TextAreaEntry : TextFieldEntry;
  return Entry({
    element, id, debounce,
    label: translate(label),
    description: description && description(translate),
    monospace: area,
    autoResize: area,
    getValue: () => get() || '',
    setValue: (value) => set((value || '').trim()),
    validate: validate && ((value) => validate(value, translate))
  });
}

/** A text field bound to a spiffworkflow property of `target` (default: the element's bo). */
function PropertyTextEntry(props) {
  const { element, name, target } = props;
  const svc = services();
  const bo = target || getBusinessObject(element);
  return textEntry(svc, {
    ...props,
    get: () => getSpiffProperty(bo, name),
    set: (value) => run(svc.commandStack, setSpiffPropertyCommands(element, bo, name, value, svc.bpmnFactory))
  });
}

/** A select bound to a spiffworkflow property of the element: "(none)" removes it. */
function PropertySelectEntry(props) {
  const { element, id, name, label, description, items, unknown } = props;
  const { translate, commandStack, bpmnFactory } = services();
  const bo = getBusinessObject(element);
  return choiceEntry(translate, {
    element, id,
    label: translate(label),
    description: description && translate(description),
    get: () => getSpiffProperty(bo, name),
    set: (value) => run(commandStack, setSpiffPropertyCommands(element, bo, name, value, bpmnFactory)),
    items,
    unknown: (current) => unknown(current, translate)
  });
}

function PropertyCheckboxEntry(props) {
  const { element, id, name, label, description } = props;
  const { translate, commandStack, bpmnFactory } = services();
  const bo = getBusinessObject(element);
  return CheckboxEntry({
    element, id,
    label: translate(label),
    description: description && translate(description),
    getValue: () => getSpiffProperty(bo, name) === 'true',
    setValue: (checked) => run(commandStack, setSpiffPropertyCommands(element, bo, name, checked ? 'true' : undefined, bpmnFactory))
  });
}

// ---------------------------------------------------------------- lanes

function LaneRoleEntry(props) {
  const { element, id } = props;
  const { translate } = services();
  const modeling = useService('modeling');
  const { roles = [] } = shodakuConfig();
  const bo = getBusinessObject(element);
  return choiceEntry(translate, {
    element, id,
    label: translate('Lane role'),
    description: translate('The lane decides who may complete its tasks: holders of this role on the contract.'),
    get: () => bo.get('name'),
    set: (value) => modeling.updateProperties(element, { name: value || undefined }),
    items: () => roles.map((r) => ({ value: r.key, label: `${r.label} (${r.key})` })),
    unknown: (key) => translate('Unknown role: {key}', { key })
  });
}

// ---------------------------------------------------------------- process

function processEntries(element) {
  const target = processOf(element);
  if (!target) {
    return [];
  }
  return [
    { id: 'shodaku-reference_prefix', component: ReferencePrefixEntry, isEdited: isTextFieldEntryEdited, target },
    { id: 'shodaku-title', component: PropertyTextEntry, isEdited: isTextAreaEntryEdited,
      name: 'title', label: 'Title expression', target, area: true,
      description: (t) => t('An expression over the request data giving the request title.') },
    { id: 'shodaku-starters', component: StartersEntry, isEdited: isTextFieldEntryEdited, target }
  ];
}

function ReferencePrefixEntry(props) {
  // The server's own pattern (webapp/engine/parse.py PREFIX), sent with the page.
  const { patterns = {} } = shodakuConfig();
  const prefix = patterns.reference_prefix ? new RegExp(patterns.reference_prefix) : null;
  return PropertyTextEntry({
    ...props,
    name: 'reference_prefix',
    label: 'Reference prefix',
    description: (t) => t('Request numbers look like PREFIX-YYYY-NNNNN.'),
    validate: (v, t) => (v && prefix && !prefix.test(v.trim()) ? t('Reference prefix') + ': A-Z 0-9' : null)
  });
}

function StartersEntry(props) {
  const { roles = [] } = shodakuConfig();
  const known = new Set(roles.map((r) => r.key));
  return PropertyTextEntry({
    ...props,
    name: 'starters',
    label: 'Starters',
    description: (t) => t('Comma-separated role keys; empty = the start event\'s lane. Known roles: {roles}',
      { roles: roles.map((r) => r.key).join(', ') }),
    validate: (value, t) => {
      if (!known.size || !value) {
        return null;
      }
      const unknown = value.split(',').map((s) => s.trim()).filter((s) => s && !known.has(s));
      return unknown.length ? t('Unknown role: {key}', { key: unknown.join(', ') }) : null;
    }
  });
}

// ---------------------------------------------------------------- user tasks

function FormEntry(props) {
  const { forms = [] } = shodakuConfig();
  return PropertySelectEntry({
    ...props,
    name: 'form',
    label: 'Form',
    items: () => forms.map((f) => ({ value: f, label: f })),
    unknown: (form, t) => t('Unknown form: {form}', { form })
  });
}

function SeparateFromEntry(props) {
  const { element } = props;
  const elementRegistry = useService('elementRegistry');
  const bo = getBusinessObject(element);
  return PropertySelectEntry({
    ...props,
    name: 'separate_from',
    label: 'Separate from',
    description: 'Whoever completed that task may not complete this one.',
    items: () => {
      const process = enclosingProcess(bo);
      return elementRegistry.filter((e) => !e.labelTarget && is(e, 'bpmn:UserTask') &&
        e.id !== element.id && enclosingProcess(e.businessObject) === process)
        .map((e) => ({ value: e.id, label: e.businessObject.name ? `${e.businessObject.name} (${e.id})` : e.id }));
    },
    unknown: (current) => `? ${current}`
  });
}

function userTaskEntries() {
  return [
    { id: 'shodaku-form', component: FormEntry, isEdited: isSelectEntryEdited },
    { id: 'shodaku-due', component: PropertyTextEntry, isEdited: isTextFieldEntryEdited,
      name: 'due', label: 'Due',
      description: (t) => t('e.g. 3bd (business days) / 2d (days) / 4h (hours)'),
      validate: (v, t) => (v && !isDue(v.trim()) ? t('Due must look like 3bd, 2d or 4h.') : null) },
    { id: 'shodaku-separate_from', component: SeparateFromEntry, isEdited: isSelectEntryEdited },
    { id: 'shodaku-not_requester', component: PropertyCheckboxEntry, isEdited: isCheckboxEntryEdited,
      name: 'not_requester', label: 'Not the requester (four eyes)' },
    { id: 'shodaku-decision', component: PropertyCheckboxEntry, isEdited: isCheckboxEntryEdited,
      name: 'decision', label: 'Written decision',
      description: 'Completing the task makes a numbered written decision.' }
  ];
}

// ---------------------------------------------------------------- service tasks

function OperatorEntry(props) {
  const { element, id } = props;
  const { translate, commandStack, bpmnFactory } = services();
  const { handlers = [] } = shodakuConfig();
  const bo = getBusinessObject(element);
  const handler = handlers.find((h) => h.name === getOperator(bo)?.id);
  return choiceEntry(translate, {
    element, id,
    label: translate('Operator'),
    description: handler?.doc || undefined,
    get: () => getOperator(bo)?.id,
    set: (value) => run(commandStack, setOperatorAttrCommands(element, bo, 'id', value, bpmnFactory)),
    items: () => handlers.map((h) => ({ value: h.name, label: h.name })),
    unknown: (name) => translate('Unknown handler: {name}', { name })
  });
}

function ResultVariableEntry(props) {
  const { element } = props;
  const svc = services();
  const bo = getBusinessObject(element);
  return textEntry(svc, {
    ...props,
    label: 'Result variable',
    get: () => getOperator(bo)?.resultVariable,
    set: (value) => run(svc.commandStack, setOperatorAttrCommands(element, bo, 'resultVariable', value, svc.bpmnFactory)),
    validate: (v) => (v && !IDENTIFIER.test(v.trim()) ? 'a-z A-Z 0-9 _' : null)
  });
}

function ParameterAttrEntry(props) {
  const { element, id, parameter, attr } = props;
  const { translate, debounce, commandStack } = services();
  const common = {
    element, id,
    getValue: () => parameter.get(attr) || '',
    setValue: (value) => run(commandStack, updateCommand(element, parameter, { [attr]: value }))
  };
  if (attr === 'type') {
    return SelectEntry({
      ...common,
      label: translate('Type'),
      getOptions: () => withCurrent(PARAMETER_TYPES.map((t) => ({ value: t, label: t })), parameter.get('type'), parameter.get('type'))
    });
  }
  if (attr === 'id') {
    return TextFieldEntry({
      ...common, debounce,
      label: translate('Parameter name'),
      validate: (v) => (!v || !IDENTIFIER.test(v) ? 'a-z A-Z 0-9 _' : null)
    });
  }
  return TextFieldEntry({
    ...common, debounce,
    label: translate('Value expression'),
    description: translate('Text must be quoted: "approve"')
  });
}

function parametersGroup(element, injector) {
  const translate = injector.get('translate');
  const commandStack = injector.get('commandStack');
  const bpmnFactory = injector.get('bpmnFactory');
  const bo = getBusinessObject(element);
  const items = getParameters(bo).map((parameter, index) => {
    const prefix = `shodaku-parameter-${index}`;
    return {
      id: prefix,
      label: parameter.get('id') || translate('Parameter'),
      autoFocusEntry: `${prefix}-id`,
      entries: [ 'id', 'value', 'type' ].map((attr) => ({
        id: `${prefix}-${attr}`, component: ParameterAttrEntry, parameter, attr,
        isEdited: attr === 'type' ? isSelectEntryEdited : isTextFieldEntryEdited
      })),
      remove: (event) => {
        event.stopPropagation();
        run(commandStack, removeParameterCommands(element, bo, parameter));
      }
    };
  });
  return {
    id: 'shodaku-parameters',
    label: translate('Parameters'),
    component: ListGroup,
    items,
    add: (event) => {
      event.stopPropagation();
      run(commandStack, addParameterCommands(element, bo, bpmnFactory));
    }
  };
}

// ---------------------------------------------------------------- sequence flows

function hasConditionField(element) {
  const bo = getBusinessObject(element);
  if (!is(bo, 'bpmn:SequenceFlow')) {
    return false;
  }
  const source = bo.get('sourceRef');
  if (!source || (source.get('default') === bo)) {
    return false;
  }
  return is(source, 'bpmn:ExclusiveGateway') || is(source, 'bpmn:InclusiveGateway') ||
    is(source, 'bpmn:ComplexGateway') || is(source, 'bpmn:Activity');
}

function ConditionEntry(props) {
  const { element } = props;
  const svc = services();
  const bo = getBusinessObject(element);
  return textEntry(svc, {
    ...props,
    area: true,
    label: 'Condition expression',
    description: (t) => t('e.g. decision == "approve"'),
    get: () => bo.get('conditionExpression')?.get('body'),
    set: (value) => {
      const current = bo.get('conditionExpression');
      let cmds;
      if (!value) {
        cmds = current ? updateCommand(element, bo, { conditionExpression: undefined }) : [];
      } else if (current) {
        cmds = updateCommand(element, current, { body: value });
      } else {
        const expression = svc.bpmnFactory.create('bpmn:FormalExpression', { body: value });
        expression.$parent = bo;
        cmds = updateCommand(element, bo, { conditionExpression: expression });
      }
      run(svc.commandStack, cmds);
    }
  });
}

// ---------------------------------------------------------------- timers

const TIMER_TYPES = [ 'timeDate', 'timeDuration', 'timeCycle' ];

function timerDefinition(element) {
  const bo = getBusinessObject(element);
  if (!is(bo, 'bpmn:Event')) {
    return null;
  }
  return (bo.get('eventDefinitions') || []).find((d) => is(d, 'bpmn:TimerEventDefinition')) || null;
}

function timerType(definition) {
  return TIMER_TYPES.find((t) => definition.get(t)) || '';
}

function TimerTypeEntry(props) {
  const { element, id } = props;
  const { translate, commandStack, bpmnFactory } = services();
  const definition = timerDefinition(element);
  return SelectEntry({
    element, id,
    label: translate('Timer type'),
    getValue: () => timerType(definition),
    setValue: (value) => {
      const old = timerType(definition);
      if (value === old) {
        return;
      }
      const properties = { timeDate: undefined, timeDuration: undefined, timeCycle: undefined };
      if (value) {
        const body = old ? definition.get(old).get('body') : undefined;
        const expression = bpmnFactory.create('bpmn:FormalExpression', { body });
        expression.$parent = definition;
        properties[value] = expression;
      }
      run(commandStack, updateCommand(element, definition, properties));
    },
    getOptions: () => {
      const options = [
        { value: '', label: translate('(none)') },
        { value: 'timeDate', label: translate('Date (timeDate)') },
        { value: 'timeDuration', label: translate('Duration (timeDuration)') }
      ];
      if (timerType(definition) === 'timeCycle') {
        options.push({ value: 'timeCycle', label: translate('Cycle (timeCycle, not supported)') });
      }
      return options;
    }
  });
}

function TimerValueEntry(props) {
  const { element } = props;
  const svc = services();
  const definition = timerDefinition(element);
  const expression = definition.get(timerType(definition));
  return textEntry(svc, {
    ...props,
    label: 'Timer expression',
    description: (t) => t('e.g. deadline("3bd") for a date, or "PT4H" for a duration'),
    get: () => expression.get('body'),
    set: (value) => run(svc.commandStack, updateCommand(element, expression, { body: value || undefined }))
  });
}

function timerGroup(element, translate) {
  const definition = timerDefinition(element);
  if (!definition) {
    return null;
  }
  const entries = [ { id: 'shodaku-timer-type', component: TimerTypeEntry, isEdited: isSelectEntryEdited } ];
  if (timerType(definition)) {
    entries.push({ id: 'shodaku-timer-value', component: TimerValueEntry, isEdited: isTextFieldEntryEdited });
  }
  return { id: 'shodaku-timer', label: translate('Timer'), component: Group, entries };
}

// ---------------------------------------------------------------- provider

export default class ShodakuPropertiesProvider {

  constructor(propertiesPanel, injector, translate) {
    this._injector = injector;
    this._translate = translate;
    propertiesPanel.registerProvider(LOW_PRIORITY, this);
  }

  getGroups(element) {
    return (groups) => {
      const translate = this._translate;
      const bo = getBusinessObject(element);
      let result = groups.filter((g) => g.id !== 'timer');

      if (is(bo, 'bpmn:Lane')) {
        result = result.map((g) => (g.id !== 'general' ? g : {
          ...g,
          entries: g.entries.map((e) => (e.id === 'name'
            ? { id: 'name', component: LaneRoleEntry, isEdited: isSelectEntryEdited } : e))
        }));
      }

      const extra = [];
      const processFields = processEntries(element);
      if (processFields.length) {
        extra.push({ id: 'shodaku-process', label: translate('Process settings'), component: Group, entries: processFields });
      }
      if (is(bo, 'bpmn:UserTask')) {
        extra.push({ id: 'shodaku-user-task', label: translate('Task settings'), component: Group, entries: userTaskEntries() });
      }
      if (is(bo, 'bpmn:ServiceTask')) {
        extra.push({
          id: 'shodaku-service-task', label: translate('Service'), component: Group,
          entries: [
            { id: 'shodaku-operator', component: OperatorEntry, isEdited: isSelectEntryEdited },
            { id: 'shodaku-result-variable', component: ResultVariableEntry, isEdited: isTextFieldEntryEdited }
          ]
        });
        extra.push(parametersGroup(element, this._injector));
      }
      if (hasConditionField(element)) {
        extra.push({
          id: 'shodaku-condition', label: translate('Condition'), component: Group,
          entries: [ { id: 'shodaku-condition-expression', component: ConditionEntry, isEdited: isTextAreaEntryEdited } ]
        });
      }
      const timer = timerGroup(element, translate);
      if (timer) {
        extra.push(timer);
      }

      // Ours right after "General", before documentation and the rest.
      const at = result.findIndex((g) => g.id === 'general') + 1;
      result.splice(at, 0, ...extra);
      return result.map((g) => ({ ...g, translate }));
    };
  }
}

ShodakuPropertiesProvider.$inject = [ 'propertiesPanel', 'injector', 'translate' ];

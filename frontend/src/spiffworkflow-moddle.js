// Moddle descriptor for the SpiffWorkflow extension elements our diagrams use
// (processes/README.md). Without it bpmn-moddle keeps unknown elements only as
// opaque generic nodes that the properties panel cannot edit; with it every
// element below is typed, editable and written back unchanged by saveXML().
//
// Element names come from the type names ("xml.tagAlias: lowerCase"), so
// `Properties` is <spiffworkflow:properties>, `ServiceTaskOperator` is
// <spiffworkflow:serviceTaskOperator>, and so on. The `id` attributes here are
// plain strings (not `isId`): an operator id such as "notify_requester" may
// appear on several service tasks and must not clash with BPMN element ids.

export default {
  name: 'SpiffWorkflow',
  uri: 'http://spiffworkflow.org/bpmn/schema/1.0/core',
  prefix: 'spiffworkflow',
  xml: { tagAlias: 'lowerCase' },
  associations: [],
  types: [
    {
      name: 'Properties',
      superClass: [ 'Element' ],
      properties: [
        { name: 'properties', type: 'Property', isMany: true }
      ]
    },
    {
      name: 'Property',
      superClass: [ 'Element' ],
      properties: [
        { name: 'name', type: 'String', isAttr: true },
        { name: 'value', type: 'String', isAttr: true }
      ]
    },
    {
      name: 'ServiceTaskOperator',
      superClass: [ 'Element' ],
      properties: [
        { name: 'id', type: 'String', isAttr: true },
        { name: 'resultVariable', type: 'String', isAttr: true },
        { name: 'parameterList', type: 'Parameters' }
      ]
    },
    {
      name: 'Parameters',
      superClass: [ 'Element' ],
      properties: [
        { name: 'parameters', type: 'Parameter', isMany: true }
      ]
    },
    {
      name: 'Parameter',
      superClass: [ 'Element' ],
      properties: [
        { name: 'id', type: 'String', isAttr: true },
        { name: 'type', type: 'String', isAttr: true },
        { name: 'value', type: 'String', isAttr: true }
      ]
    },
    {
      name: 'PreScript',
      superClass: [ 'Element' ],
      properties: [
        { name: 'value', type: 'String', isBody: true }
      ]
    },
    {
      name: 'PostScript',
      superClass: [ 'Element' ],
      properties: [
        { name: 'value', type: 'String', isBody: true }
      ]
    },
    {
      name: 'InstructionsForEndUser',
      superClass: [ 'Element' ],
      properties: [
        { name: 'value', type: 'String', isBody: true }
      ]
    }
  ],
  enumerations: []
};

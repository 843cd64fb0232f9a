// Writes rule groups as readable YAML: keys in the order people expect (alert or record,
// expr, for, labels, annotations), multi-line expressions as block scalars, every string
// quoted the JSON way (which YAML accepts).
local order = ['apiVersion', 'kind', 'metadata', 'name', 'alert', 'record', 'expr', 'for', 'keep_firing_for', 'labels', 'annotations', 'rules'];

local scalar(value, indent) =
  if std.type(value) == 'string' && std.length(std.findSubstr('\n', std.rstripChars(value, '\n'))) > 0 then
    '|-\n' + std.join('\n', [
      if line == '' then '' else indent + line
      for line in std.split(std.rstripChars(value, '\n'), '\n')
    ])
  else if std.type(value) == 'string' then std.escapeStringJson(value)
  else std.toString(value);

local keys(obj) =
  [k for k in order if std.objectHas(obj, k)] +
  [k for k in std.objectFields(obj) if !std.member(order, k)];

local mapping(obj, indent) = std.join('\n', [
  local value = obj[k];
  if std.type(value) == 'object' then
    indent + k + ':\n' + mapping(value, indent + '  ')
  else if std.type(value) == 'array' then
    indent + k + ':\n' + std.join('\n', [
      indent + '  - ' + std.lstripChars(mapping(item, indent + '    '), ' ')
      for item in value
    ])
  else
    indent + k + ': ' + scalar(value, indent + '  ')
  for k in keys(obj)
]);

{
  manifest(obj):: mapping(obj, '') + '\n',
}

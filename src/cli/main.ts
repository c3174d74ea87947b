// layerlens CLI entry point (placeholder until the commands land).
process.stdout.write('layerlens: not yet implemented\n');
process.exit(2);

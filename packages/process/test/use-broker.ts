// Imported FIRST by the test files that are about the broker itself (its
// protocol, limits and security): they run it whatever the memory backend of
// the run, so the fallback is tested on every run (the backend is decided at
// first use, after this line; children inherit the variable).
process.env.CONC_SHM = '0';

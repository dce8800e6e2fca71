// testTimeout is global in Jest; per-suite limits are set here (setupFilesAfterEnv is per project).
jest.setTimeout(120_000);

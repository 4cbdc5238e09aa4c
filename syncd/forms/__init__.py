"""Web forms: YAML definitions (``definitions``), field validation (``validate``) and the
submission that creates or updates the lead (``submit``). HTTP lives in `syncd.web`."""

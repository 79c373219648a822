"""pro-app: electronic patient-reported outcomes for myositis clinics."""

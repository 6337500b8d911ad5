"""The autopilot: new ratings or time start a job, the gate promotes, the live model's own
ratings roll it back (trigger and rollback are pure; tick is the store side)."""

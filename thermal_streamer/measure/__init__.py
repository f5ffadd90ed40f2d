"""What the camera measures: regions and their statistics, alarms, object parameters
(emissivity and friends), the JSON readings, and the file that keeps regions and alarms."""

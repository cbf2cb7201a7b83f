import './base.css';
import './masks.css';
import './jobs.css';
